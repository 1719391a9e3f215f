"""The references rule's hot path (an in-range integer id, an allowed null) must index and report
exactly what the general path does: checked against a naive model built on ``key_text``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.portable.contract import Contract, key_text
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.keys import key_of_text
from harness.portable.validate.rules.context import EntityContext
from harness.portable.validate.rules.relationships import bind_references
from tests.conftest import REFERENCE_CONTRACT

_CONTRACT: Contract | None = None

_IDS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**19), 10**19),
    st.sampled_from([0, -1, 10**18 - 1, 10**18, -(10**18) + 1, -(10**18), 2**63, 1.0, 2.5]),
    st.sampled_from(["", "5", "05", "-0", "x", "1e3"]),
    st.lists(st.one_of(st.integers(-3, 3), st.none(), st.just("a")), max_size=3),
    st.just({"id": 1}),
)


def _contract() -> Contract:
    global _CONTRACT
    if _CONTRACT is None:
        from harness.portable.contract import load_contract

        _CONTRACT = load_contract(REFERENCE_CONTRACT)
    return _CONTRACT


def _naive(ent: Any, record: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[str]]:
    """(target, key) of every reference the record makes and the fields reported, from key_text."""
    keys: list[tuple[str, Any]] = []
    reported: list[str] = []
    for rel in ent.relationships:
        if not rel.simple:
            continue
        value = record.get(rel.field)
        items = value if rel.array and isinstance(value, list) else [value]
        for item in items:
            text = key_text(item)
            if text is not None:
                keys.append((rel.entity, key_of_text(text)))
            elif item is not None or not (rel.nullable or rel.array):
                reported.append(rel.field)
    return keys, reported


@settings(max_examples=1500, deadline=None)
@given(
    which=st.sampled_from(["tasks", "assistant_jobs", "files", "artifacts"]),
    values=st.dictionaries(
        st.sampled_from(["owner_id", "assignee_id", "template_id", "user_id", "task_id", "card_id"])
        | st.sampled_from(["input_file_ids", "retry_of", "job_id"]),
        _IDS,
    ),
)
def test_references_are_indexed_and_reported_as_the_naive_model_says(
    which: str, values: dict[str, Any]
) -> None:
    contract = _contract()
    ent = contract.entity(which)
    with tempfile.TemporaryDirectory() as tmp:
        report = ValidationReport(export_dir=Path(tmp))
        index = RecordIndex(Path(tmp))
        try:
            ctx = EntityContext(report, contract.strictness, ent, index, contract, frozenset())
            check = bind_references(ctx)
            assert check is not None
            bad = check(values, "", 7, "r7")
            store = index.store(ent.name, ent.file)
            places = [(target, key) for line, rid, _fld, target, key in store.places]
            assert all(p[0] == 7 and p[1] == "r7" for p in store.places)
            indexed = {(target, key) for target, keys in store.keys.items() for key in keys}
        finally:
            index.close()
    keys, reported = _naive(ent, values)
    assert places == keys, values
    assert indexed == set(keys)
    assert [f.field for f in report.findings] == reported
    assert bad == bool(reported)
