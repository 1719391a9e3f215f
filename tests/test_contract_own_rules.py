"""The contract's own rules on exports the harness did not write (tests/foreign): ``secret_rules``
(an application's key and value patterns, added to the built-in scanner) and the cross-record
``rules`` (count, requires). Each case names the finding's rule, file, line, record and field, the
exact message, and which records are marked invalid (the restore skips those)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.portable.contract import Contract, load_contract
from harness.portable.contract.model import SecretRules, Strictness
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules.context import EntityContext
from harness.portable.validate.rules.crossrecord import bind_rule_facts
from harness.portable.validate.rules.secrets import bind_secret_scan
from harness.portable.validate.validator import validate_export
from tests.foreign import docstore, kvstore
from tests.helpers import rules

Data = dict[str, list[dict[str, Any]]]
INTERNAL_TOKEN = "(?i)^internal[-_]?token$"
DOCSTORE_VALUE = "dst_[A-Za-z0-9]{24}"
LEAKED = "see dst_" + "Ab3dE5gH7jK9mN1pQ3sT5vW7"  # the docstore's own token shape, nothing built in


def _validate(contract: Contract, data: Data, tmp_path: Path) -> ValidationReport:
    export_dir = docstore.write(tmp_path / "export", data)
    return validate_export(contract, export_dir, scratch_dir=tmp_path / "scratch")


def _where(report: ValidationReport) -> list[tuple[str, str, int | None, str | None, str | None]]:
    return [(f.rule, f.file, f.line, f.record_id, f.field) for f in report.findings]


def _docstore(**secret_rules: tuple[str, ...]) -> Contract:
    return replace(load_contract(docstore.CONTRACT), secret_rules=SecretRules(**secret_rules))


def _leak_key(data: Data) -> None:
    data["documents"][3]["meta"]["nested"]["internalToken"] = "opaque"


def _leak_value(data: Data) -> None:
    data["documents"][2]["title"] = LEAKED


@pytest.mark.parametrize("kind", [docstore, kvstore], ids=["docstore", "kvstore"])
def test_a_valid_foreign_export_marks_no_record_invalid(kind: Any, tmp_path: Path) -> None:
    contract = load_contract(kind.CONTRACT)
    report = validate_export(contract, kind.write(tmp_path / "export"), scratch_dir=tmp_path / "scratch")
    assert report.findings == [] and report.ok
    assert report.invalid_count == 0 and report.invalid_ids == {}


# -- secret_rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("own", "leak", "field", "record"),
    [
        ({"key_patterns": (INTERNAL_TOKEN,)}, _leak_key, "meta.nested.internalToken", 3),
        ({"value_patterns": (DOCSTORE_VALUE,)}, _leak_value, "title", 2),
    ],
    ids=["keys-only", "values-only"],
)
def test_an_application_pattern_finds_its_own_secret_and_nothing_else(
    own: dict[str, tuple[str, ...]], leak: Any, field: str, record: int, tmp_path: Path
) -> None:
    contract = _docstore(**own)
    assert _validate(contract, docstore.records(), tmp_path / "clean").findings == []
    data = docstore.records()
    leak(data)
    report = _validate(contract, data, tmp_path / "leaked")
    doc = data["documents"][record]
    rid = f'["{doc["documentId"]}",{doc["version"]}]'
    assert _where(report) == [("redaction.secret", "documents.jsonl", record + 1, rid, field)]
    assert report.invalid_ids == {"documents": {rid}}
    assert "dst_" not in report.findings[0].message and "opaque" not in report.findings[0].message


def test_a_pattern_that_is_not_declared_finds_nothing(tmp_path: Path) -> None:
    data = docstore.records()
    _leak_key(data)
    _leak_value(data)
    assert _validate(_docstore(), data, tmp_path).findings == []  # neither shape is built in
    assert _validate(_docstore(key_patterns=(INTERNAL_TOKEN,)), data, tmp_path / "k").rule_counts == {
        "redaction.secret": 1
    }


def test_every_value_pattern_counts_on_its_own(tmp_path: Path) -> None:
    contract = _docstore(value_patterns=(DOCSTORE_VALUE, "zq_[0-9]{6}", "^never$"))
    for n, title in enumerate((LEAKED, "order zq_" + "123456", "never")):
        data = docstore.records()
        data["documents"][2]["title"] = title
        report = _validate(contract, data, tmp_path / str(n))
        assert [(f.rule, f.field) for f in report.findings] == [("redaction.secret", "title")], n


# -- binding without a contract (the built-in scanner alone) ----------------------------------------
def _context(tmp_path: Path, contract: Contract | None, entity: str) -> EntityContext:
    full = load_contract(docstore.CONTRACT)
    report = ValidationReport(tmp_path)
    return EntityContext(report, Strictness(), full.entity(entity), RecordIndex(tmp_path), contract)


def test_without_a_contract_only_the_built_in_scanner_runs_and_no_rule_facts_are_kept(
    tmp_path: Path,
) -> None:
    ctx = _context(tmp_path, None, "folders")
    assert bind_rule_facts(ctx) is None
    check = bind_secret_scan(ctx)
    assert check is not None
    record = {"folderId": "f-1", "internalToken": "x", "name": LEAKED}
    assert check(record, orjson.dumps(record).decode(), 1, "f-1") is False  # no application patterns
    assert check({"folderId": "f-1", "password": "x"}, '{"folderId":"f-1"}', 2, "f-1") is False  # pre-filter
    record = {"folderId": "f-1", "password": "x"}
    assert check(record, '{"folderId":"f-1","password":"x"}', 4, "f-1") is True
    (finding,) = ctx.report.findings
    assert (finding.rule, finding.line, finding.record_id, finding.field) == (
        "redaction.secret",
        4,
        "f-1",
        "password",
    )


def test_the_fields_an_entity_allows_are_not_scanned_the_others_are(tmp_path: Path) -> None:
    ctx = _context(tmp_path, None, "folders")
    ctx = replace(ctx, entity=replace(ctx.entity, secret_allow_fields=("meta.password",)))
    check = bind_secret_scan(ctx)
    assert check is not None
    allowed = {"folderId": "f-1", "meta": {"password": "x"}}
    assert check(allowed, orjson.dumps(allowed).decode(), 1, "f-1") is False
    both = {"folderId": "f-2", "meta": {"password": "x"}, "password": "y"}
    assert check(both, orjson.dumps(both).decode(), 2, "f-2") is True
    assert [(f.rule, f.line, f.field) for f in ctx.report.findings] == [("redaction.secret", 2, "password")]


def test_an_entity_that_opts_out_of_the_scan_has_no_secret_rule(tmp_path: Path) -> None:
    ctx = _context(tmp_path, None, "folders")
    assert bind_secret_scan(replace(ctx, entity=replace(ctx.entity, secret_scan=False))) is None


def test_rule_facts_are_kept_only_for_records_with_an_id(tmp_path: Path) -> None:
    contract = load_contract(docstore.CONTRACT)
    ctx = _context(tmp_path, contract, "folders")
    check = bind_rule_facts(ctx)
    assert check is not None
    assert check({"childCount": 2}, "{}", 1, None) is False
    assert check({"childCount": 2}, "{}", 2, "f-9") is False  # a fact is no finding
    assert check({"childCount": "two"}, "{}", 3, "f-8") is False
    assert check({"childCount": True}, "{}", 4, "f-7") is False
    assert ctx.index.facts == [("folder-child-count", "folders", "f-9", 2, 2)]
    (tmp_path / "u").mkdir()
    assert bind_rule_facts(_context(tmp_path / "u", contract, "users")) is None  # no rule about users


def test_a_requires_rule_keeps_one_fact_per_record_meeting_its_condition(tmp_path: Path) -> None:
    ctx = _context(tmp_path, load_contract(docstore.CONTRACT), "jobs")
    check = bind_rule_facts(ctx)
    assert check is not None
    assert check({"jobId": 7, "status": "approved"}, "{}", 1, "7") is False
    assert check({"jobId": 8, "status": "queued"}, "{}", 2, "8") is False
    assert check({"jobId": 9, "status": "approved"}, "{}", 3, None) is False
    assert ctx.index.facts == [("approved-job-has-approval", "jobs", "7", 1, 1)]


# -- cross-record rules -----------------------------------------------------------------------------
def test_a_count_rule_reports_the_counter_and_the_references_it_found(tmp_path: Path) -> None:
    contract = load_contract(docstore.CONTRACT)
    data = docstore.records()
    folder = data["folders"][0]
    real = folder["childCount"]
    folder["childCount"] = real + 1
    report = _validate(contract, data, tmp_path)
    (finding,) = report.findings
    rule = next(r for r in contract.rules if r.id == "folder-child-count")
    assert (finding.rule, finding.file, finding.line, finding.record_id) == (
        "rule.folder-child-count",
        "folders.jsonl",
        1,
        folder["folderId"],
    )
    assert (
        finding.message
        == f"{rule.message} (childCount is {real + 1}, {real} documents record(s) reference it)"
    )
    assert report.invalid_ids == {"folders": {folder["folderId"]}}


@pytest.mark.parametrize(
    ("counter", "found"),
    [
        ("three", {"record.schema"}),
        (2.5, {"record.schema", "type.integer"}),
        (None, {"record.schema"}),
        (True, {"record.schema"}),
    ],
    ids=["text", "fraction", "null", "boolean"],
)
def test_a_counter_that_is_not_an_integer_is_no_count(
    counter: object, found: set[str], tmp_path: Path
) -> None:
    """The schema reports it; the count rule compares integers only (never "three" with a count)."""
    data = docstore.records()
    data["folders"][1]["childCount"] = counter
    report = _validate(load_contract(docstore.CONTRACT), data, tmp_path)
    assert rules(report) == found, [f.rule for f in report.findings]


def test_a_requires_rule_names_the_related_entity_it_did_not_find(tmp_path: Path) -> None:
    contract = load_contract(docstore.CONTRACT)
    data = docstore.records()
    gone = data["approvals"].pop()
    job_line, job = next((n, j) for n, j in enumerate(data["jobs"], 1) if j["jobId"] == gone["jobId"])
    report = _validate(contract, data, tmp_path)
    rule = next(r for r in contract.rules if r.id == "approved-job-has-approval")
    assert [(f.rule, f.file, f.line, f.record_id, f.message) for f in report.findings] == [
        (
            "rule.approved-job-has-approval",
            "jobs.jsonl",
            job_line,
            str(job["jobId"]),
            f"{rule.message} (no approvals record references it)",
        )
    ]
    assert report.invalid_ids == {"jobs": {str(job["jobId"])}}


def test_a_requires_rule_holds_only_for_records_meeting_its_condition(tmp_path: Path) -> None:
    data = docstore.records()
    queued = next(j for j in data["jobs"] if j["status"] == "queued")
    assert not any(a["jobId"] == queued["jobId"] for a in data["approvals"])  # never needed one
    assert _validate(load_contract(docstore.CONTRACT), data, tmp_path).findings == []
