"""Reference places found again: the validator's first pass keeps only the distinct keys of the
references, and reads an entity file a second time, with the references rule alone, for the places
of the ones that dangle. Its findings must be those of a pass that kept every place, and a file
that changes between the passes must still fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.portable.contract import Contract, load_contract
from harness.portable.validate import validator as validator_module
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.validator import Validator, validate_export
from tests.foreign import docstore, kvstore
from tests.helpers import edit_record, rewrite_lines


def _keeping_places(patch: pytest.MonkeyPatch) -> None:
    """The validator as it was: every reference's place kept while the files are read."""

    def index(self: Validator, directory: Path, name: str = "index.sqlite3") -> RecordIndex:
        return RecordIndex(directory, name=name, rule_fields=validator_module.rule_fields(self.contract))

    patch.setattr(Validator, "_index", index)


def _findings(report: ValidationReport) -> list[tuple[Any, ...]]:
    return [(f.rule, f.file, f.line, f.record_id, f.field, f.message) for f in report.findings]


def _both_ways(contract: Contract, export_dir: Path, tmp_path: Path, workers: int) -> list[tuple[Any, ...]]:
    found = _findings(validate_export(contract, export_dir, scratch_dir=tmp_path / "a", workers=workers))
    with pytest.MonkeyPatch.context() as patch:  # in this process: a spawned worker would not see it
        _keeping_places(patch)
        kept = validate_export(contract, export_dir, scratch_dir=tmp_path / "b", workers=1)
    assert found == _findings(kept)
    return found


def _break(lines: list[bytes]) -> list[bytes]:
    """A line that is no JSON, one nested too deeply and one that is not UTF-8, between references."""
    deep = b'{"id": 1, "x": ' + b"[" * 40 + b"]" * 40 + b"}\n"
    return [lines[0], b"{not json\n", deep, b'{"id": "\xff"}\n', *lines[1:]]


@pytest.mark.parametrize("workers", [1, 2])
def test_reference_export_dangling_findings_equal_kept_places(
    contract: Contract, export_copy: Path, tmp_path: Path, workers: int
) -> None:
    for line in (0, 3, 7):
        edit_record(export_copy, "tasks.jsonl", line, lambda r, n=line: r.update(owner_id=999_000 + n))
    edit_record(export_copy, "tasks.jsonl", 9, lambda r: r.update(template_id=10**19, assignee_id=True))
    edit_record(export_copy, "cards.jsonl", 2, lambda r: r.update(task_id="t-none", owner_id=999_000))
    jobs = export_copy / "assistant_jobs.jsonl"
    lines = jobs.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if '"input_file_ids":[]' not in line)
    edit_record(export_copy, "assistant_jobs.jsonl", first, lambda r: r["input_file_ids"].append("f-none"))
    rewrite_lines(export_copy, "cards.jsonl", _break)
    found = _both_ways(contract, export_copy, tmp_path, workers)
    dangling = [f for f in found if f[0] == "relationship.dangling"]
    assert len(dangling) >= 7
    assert all(f[2] for f in dangling)  # every one has its line


@pytest.mark.parametrize("kind", [docstore, kvstore], ids=["docstore", "kvstore"])
def test_version_2_references_dangling_findings_equal_kept_places(kind: Any, tmp_path: Path) -> None:
    """Nested, array, composite, conditional and polymorphic references through the rescan."""
    data = kind.records()
    if kind is docstore:
        next(d for d in data["documents"] if d["jobRefs"])["jobRefs"][-1]["jobId"] = 999
        next(d for d in data["documents"] if "approval" in d)["approval"]["decidedBy"] = "u-ffff"
        next(f for f in data["folders"] if "coverVersion" in f)["coverVersion"] = 7
    else:
        data["orders"][1]["lines"][0]["sku"] = "sku-none"
    export_dir = kind.write(tmp_path / "export", data)
    found = _both_ways(load_contract(kind.CONTRACT), export_dir, tmp_path, 1)
    assert sum(f[0] == "relationship.dangling" for f in found) >= (3 if kind is docstore else 1)


def test_a_file_changed_between_the_passes_still_fails(
    contract: Contract, export_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rescan finds no place for a missing key (the reference was taken out meanwhile): the
    dangling reference is still reported, once, without a line, by the file that made it."""
    edit_record(export_copy, "tasks.jsonl", 0, lambda r: r.update(owner_id=987_654_321))
    rescan = Validator.places_of

    def changed_first(self: Validator, entity: str) -> Any:
        edit_record(export_copy, "tasks.jsonl", 0, lambda r: r.update(owner_id=1))
        yield from rescan(self, entity)

    monkeypatch.setattr(Validator, "places_of", changed_first)
    report = validate_export(contract, export_copy, scratch_dir=tmp_path / "s", workers=1)
    assert not report.ok
    found = [f for f in report.findings if f.rule == "relationship.dangling"]
    assert [(f.file, f.line, f.record_id, f.field) for f in found] == [("tasks.jsonl", None, None, None)]
    assert found[0].message == (
        "references users id 987654321, which is not in the export"
        " (its line was not found again: the file changed while it was read)"
    )
