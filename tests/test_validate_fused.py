"""The clean-record predicate may only skip work: a record it passes gives the field rules nothing
to report, on the harness's own export and on both foreign ones, for every field changed to
every probe value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.clock import parse_rfc3339
from harness.fastschema import generate_check
from harness.portable.contract import Contract, Entity, load_contract
from harness.portable.export import ExportResult
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules.context import EntityContext, RecordRule
from harness.portable.validate.rules.fields import FORM_TESTS
from harness.portable.validate.rules.fused import bind_clean
from tests.foreign import docstore, kvstore
from tests.helpers import read_records

PROBES: list[Any] = [
    None,
    "",
    "x",
    "member",
    "active",
    0,
    -1,
    7,
    2**15,
    2**31,
    2**63,
    -(2**63) - 1,
    1.5,
    2.0,
    1e3,
    True,
    False,
    [],
    [1],
    ["a"],
    {},
    {"a": 1},
    "2025-01-31T23:59:59Z",
    "2025-01-31T23:59:59.123456Z",
    "2025-02-30T00:00:00Z",
    "2025-01-31T23:59:59+01:00",
    "2025-01-31 23:59:59Z",
    "2025-01-31",
    "2025-13-31",
    1735689599,
    1735689599000,
    "0000e86c-b86a-429c-8301-282c577b9391",
    "0000e86c-b86a-429c-8301-282c577b939",
]


def _checked(
    contract: Contract, ent: Entity, tmp: Path, declared: frozenset[str]
) -> tuple[Any, list[RecordRule], ValidationReport]:
    report = ValidationReport(export_dir=tmp)
    ctx = EntityContext(report, contract.strictness, ent, RecordIndex(tmp), contract, declared)
    clean, covered = bind_clean(ctx)
    checks = [check for check in (bind(ctx) for bind in covered) if check is not None]
    return clean, checks, report


def _agree(clean: Any, checks: list[RecordRule], report: ValidationReport, record: dict[str, Any]) -> bool:
    """If clean() passes the record, no field rule reports anything about it."""
    if not clean(record):
        return False
    text = json.dumps(record, separators=(",", ":")) + "\n"
    before = report.finding_count
    assert not any([check(record, text, 1, "1") for check in checks]), record
    assert report.finding_count == before, [str(f) for f in report.findings[before:]]
    return True


def _variants(record: dict[str, Any], ent: Entity) -> Iterator[dict[str, Any]]:
    yield {**record, "unexpected_field": 1}
    for name in (*ent.redact, "declaredSecret"):
        yield {**record, name: "x"}
    for key in {*record, *ent.schema.get("properties", {})}:
        yield {k: v for k, v in record.items() if k != key}
        for probe in PROBES:
            yield {**record, key: probe}


def _sources(
    contract: Contract, reference_export: ExportResult, tmp: Path
) -> Iterator[tuple[Contract, dict]]:
    yield contract, {e.name: read_records(reference_export.directory / e.file)[:3] for e in contract.entities}
    for kind in (docstore, kvstore):
        foreign = load_contract(kind.CONTRACT)
        yield foreign, {name: rows[:3] for name, rows in kind.records().items()}


def test_a_record_the_predicate_passes_gives_the_field_rules_nothing_to_report(
    contract: Contract, reference_export: ExportResult, tmp_path: Path
) -> None:
    passed = refused = 0
    for which, (source, data) in enumerate(_sources(contract, reference_export, tmp_path)):
        for ent in source.entities:
            for declared in (frozenset(), frozenset({"declaredSecret"})):
                scratch = tmp_path / f"{which}-{ent.name}-{len(declared)}"
                scratch.mkdir()
                clean, checks, report = _checked(source, ent, scratch, declared)
                for record in data[ent.name]:
                    assert _agree(clean, checks, report, record), (ent.name, "an exported record is clean")
                    for variant in _variants(record, ent):
                        if _agree(clean, checks, report, variant):
                            passed += 1
                        else:
                            refused += 1
    assert passed > 1000 and refused > 1000  # both paths taken, many times


_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
        st.sampled_from(PROBES[22:]),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


@pytest.fixture(scope="module")
def tasks_and_files(contract: Contract, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    out = []
    for name in ("tasks", "files", "users"):
        scratch = tmp_path_factory.mktemp(name)
        out.append((contract.entity(name), *_checked(contract, contract.entity(name), scratch, frozenset())))
    return out


@settings(max_examples=600, deadline=None)
@given(
    which=st.integers(0, 2),
    changes=st.dictionaries(
        st.sampled_from(
            [
                *PROBES[:5],
                "id",
                "status",
                "priority",
                "role",
                "created_at",
                "due_at",
                "position",
                "task_id",
                "card_id",
                "size_bytes",
            ]
        ),
        _VALUES,
        max_size=4,
    ),
)
def test_random_values_never_pass_a_record_the_rules_refuse(
    tasks_and_files: list[tuple[Any, ...]],
    reference_export: ExportResult,
    which: int,
    changes: dict[str, Any],
) -> None:
    ent, clean, checks, report = tasks_and_files[which]
    record = read_records(reference_export.directory / ent.file)[0]
    _agree(clean, checks, report, {**record, **{k: v for k, v in changes.items() if isinstance(k, str)}})


_LOOSE = """
contract_version: 2
name: loose
schema_version: 1
entities:
  - name: things
    primary_key: id
    redact: [secretNote]
    schema:
      type: object
      properties:
        id: {type: integer}
        level: {type: [integer, string, "null"]}
        ref: {type: [string, "null"]}
        flag: {description: any value; the column type decides}
        day: {}
        amount: {}
        small: {}
        at: {}
        seenS: {}
        onDay: {}
      additionalProperties: true
    enums: {level: [1, 2, "high"]}
    column_types: {ref: uuid, flag: boolean, day: date, amount: numeric, small: smallint}
    timestamps: {at: rfc3339, seenS: epoch_s, onDay: date}
    at_least_one_of: [[ref, day]]
"""
_LOOSE_RECORD = {"id": 1, "level": 2, "ref": "0000e86c-b86a-429c-8301-282c577b9391", "flag": True,
                 "day": "2025-01-31", "amount": 1.5, "small": 7, "at": "2025-01-31T23:59:59Z",
                 "seenS": 1735689599, "onDay": "2025-01-31"}  # fmt: skip


def test_integer_enums_column_types_forms_and_declared_redactions_are_in_the_predicate(
    tmp_path: Path,
) -> None:
    """A loose schema leaves every field to its own rule, so the predicate has to hold them all."""
    path = tmp_path / "loose.yaml"
    path.write_text(_LOOSE)
    loose = load_contract(path)
    ent = loose.entity("things")
    clean, checks, report = _checked(loose, ent, tmp_path, frozenset({"declaredSecret"}))
    assert _agree(clean, checks, report, _LOOSE_RECORD)
    # What the rules take, the predicate passes (a predicate too strict would only cost time, but
    # then it would also hide how much of it is ever used).
    for valid in (
        {"level": "high"},
        {"level": 1, "ref": None},
        {"at": "2025-01-31T23:59:59.5Z"},
        {"at": "2024-02-29T00:00:00.123456Z"},
        {"at": "2025-01-31T23:59:59+01:00"},
        {"at": None, "small": -(2**15)},
        {"small": 2**15 - 1, "amount": 3},
        {"day": "2024-02-29", "onDay": "2024-02-29"},
    ):
        assert _agree(clean, checks, report, {**_LOOSE_RECORD, **valid}), valid
    refused = 0
    for variant in _variants(_LOOSE_RECORD, ent):
        refused += not _agree(clean, checks, report, variant)
    for key in ("ref", "day"):
        refused += not _agree(clean, checks, report, {**_LOOSE_RECORD, "ref": None, "day": None, key: None})
    assert refused > 50


_STAMPS = (
    "2025-01-31T23:59:59Z",
    "2024-02-29T00:00:00.5Z",
    "2025-01-31T23:59:59.123456Z",
    "2025-01-31T23:59:59+01:00",
)
_CHARS = st.sampled_from([*"0123456789-:.TtZz+ ", "\u0663", "\uff11", "\x00", "é"])


@st.composite
def _near_stamps(draw: st.DrawFn) -> Any:
    """Timestamps in and near the common form: a character changed, added or taken away."""
    text = draw(st.sampled_from(_STAMPS))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["set", "insert", "delete"]))
        char = draw(_CHARS)
        if how == "set" and at < len(text):
            text = text[:at] + char + text[at + 1 :]
        elif how == "insert":
            text = text[:at] + char + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    return text


@settings(max_examples=3000, deadline=None)
@given(value=st.one_of(_near_stamps(), st.text(max_size=30), st.integers(), st.none(), st.floats()))
def test_the_inline_timestamp_test_is_the_strict_parsers(value: Any) -> None:
    """The predicate writes parse_rfc3339's common form inline: it must accept exactly what the
    timestamp rule accepts (null aside, which the rule leaves alone)."""
    clean = generate_check(None, {"at": [("rfc3339", datetime.fromisoformat, parse_rfc3339)]})
    assert clean({"at": value}) == (value is None or FORM_TESTS["rfc3339"](value)), value
