"""Validator: each R3 rule against a real export with one defect planted."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import orjson
import pytest

from harness.portable.contract import Contract
from harness.portable.validate.validator import validate_export
from tests.helpers import edit_record, read_records, rewrite_lines, rules


def test_reference_export_is_clean(contract: Contract, export_copy: Path) -> None:
    report = validate_export(contract, export_copy)
    assert report.ok, [str(f) for f in report.findings[:5]]
    assert report.records_checked == sum(report.manifest["entity_counts"].values())
    assert report.records_checked > 0


def test_checksum_mismatch(contract: Contract, export_copy: Path) -> None:
    rewrite_lines(export_copy, "tasks.jsonl", lambda lines: lines, fix_manifest=False)
    manifest = json.loads((export_copy / "manifest.json").read_text())
    manifest["checksums"]["tasks.jsonl"] = "sha256:" + "0" * 64
    (export_copy / "manifest.json").write_text(json.dumps(manifest))
    report = validate_export(contract, export_copy)
    assert rules(report) == {"file.checksum"}
    assert report.findings[0].file == "tasks.jsonl"


def test_count_mismatch_and_checksum_when_a_line_is_lost(contract: Contract, export_copy: Path) -> None:
    rewrite_lines(export_copy, "cards.jsonl", lambda lines: lines[:-1], fix_manifest=False)
    report = validate_export(contract, export_copy)
    assert {"count.mismatch", "file.checksum"} <= rules(report)


def test_missing_and_unexpected_files(contract: Contract, export_copy: Path) -> None:
    (export_copy / "notifications.jsonl").unlink()
    (export_copy / "extra.jsonl").write_text("{}\n")
    report = validate_export(contract, export_copy)
    found = {(f.rule, f.file) for f in report.findings}
    assert ("file.missing", "notifications.jsonl") in found
    assert ("file.unexpected", "extra.jsonl") in found


def test_missing_manifest(contract: Contract, export_copy: Path) -> None:
    (export_copy / "manifest.json").unlink()
    assert "manifest.missing" in rules(validate_export(contract, export_copy))


def test_manifest_schema_and_version(contract: Contract, export_copy: Path) -> None:
    path = export_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = "1999-01"
    path.write_text(json.dumps(manifest))
    assert rules(validate_export(contract, export_copy)) == {"manifest.schema_version"}
    del manifest["checksums"]
    path.write_text(json.dumps(manifest))
    assert "manifest.schema" in rules(validate_export(contract, export_copy))


def test_malformed_json_line(contract: Contract, export_copy: Path) -> None:
    rewrite_lines(export_copy, "users.jsonl", lambda lines: [*lines[:2], b'{"id": 1, "email": ', *lines[3:]])
    report = validate_export(contract, export_copy)
    finding = next(f for f in report.findings if f.rule == "record.json")
    assert (finding.file, finding.line) == ("users.jsonl", 3)


def test_invalid_utf8(contract: Contract, export_copy: Path) -> None:
    def corrupt(lines: list[bytes]) -> list[bytes]:
        lines[4] = lines[4].replace(b'"title":"', b'"title":"\xff\xfe', 1)
        return lines

    task_id = str(read_records(export_copy / "tasks.jsonl")[4]["id"])
    rewrite_lines(export_copy, "tasks.jsonl", corrupt)
    report = validate_export(contract, export_copy)
    # One finding naming the record; its children are not reported as dangling as well.
    assert [(f.rule, f.line, f.record_id) for f in report.findings] == [("record.utf8", 5, task_id)]


def test_duplicate_id(contract: Contract, export_copy: Path) -> None:
    rewrite_lines(export_copy, "templates.jsonl", lambda lines: [*lines, lines[0]])
    report = validate_export(contract, export_copy)
    dup = [f for f in report.findings if f.rule == "record.duplicate_id"]
    first_id = str(read_records(export_copy / "templates.jsonl")[0]["id"])
    assert [(f.record_id, f.line) for f in dup] == [
        (first_id, len(read_records(export_copy / "templates.jsonl")))
    ]


def test_dangling_scalar_reference(contract: Contract, export_copy: Path) -> None:
    rec = edit_record(export_copy, "tasks.jsonl", 0, lambda r: r.update(owner_id=999_999_999))
    report = validate_export(contract, export_copy)
    finding = next(f for f in report.findings if f.rule == "relationship.dangling")
    assert (finding.file, finding.line, finding.record_id, finding.field) == (
        "tasks.jsonl",
        1,
        str(rec["id"]),
        "owner_id",
    )
    assert report.invalid_ids == {"tasks": {str(rec["id"])}}


def test_dangling_array_reference(contract: Contract, export_copy: Path) -> None:
    jobs = read_records(export_copy / "assistant_jobs.jsonl")
    index = next(i for i, j in enumerate(jobs) if j["input_file_ids"])
    edit_record(
        export_copy,
        "assistant_jobs.jsonl",
        index,
        lambda r: r["input_file_ids"].append("00000000-0000-4000-8000-000000000000"),
    )
    report = validate_export(contract, export_copy)
    assert rules(report) == {"relationship.dangling"}
    assert report.findings[0].field == "input_file_ids"


def test_nullable_reference_may_be_null_but_required_may_not(contract: Contract, export_copy: Path) -> None:
    edit_record(export_copy, "tasks.jsonl", 0, lambda r: r.update(assignee_id=None))
    assert validate_export(contract, export_copy).ok
    edit_record(export_copy, "tasks.jsonl", 0, lambda r: r.update(owner_id=None))
    assert "relationship.dangling" in rules(validate_export(contract, export_copy))


def test_at_least_one_of(contract: Contract, export_copy: Path) -> None:
    edit_record(export_copy, "files.jsonl", 0, lambda r: r.update(task_id=None, card_id=None))
    assert rules(validate_export(contract, export_copy)) == {"relationship.at_least_one_of"}


def test_unknown_enum(contract: Contract, export_copy: Path) -> None:
    edit_record(export_copy, "cards.jsonl", 2, lambda r: r.update(lane="limbo"))
    report = validate_export(contract, export_copy)
    assert [(f.rule, f.field, f.line) for f in report.findings] == [("enum.unknown", "lane", 3)]


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01T00:00:00Z", "2025-01-01 10:00:00", 1735689600])
def test_unparseable_timestamp(contract: Contract, export_copy: Path, value: object) -> None:
    edit_record(export_copy, "users.jsonl", 0, lambda r: r.update(created_at=value))
    found = rules(validate_export(contract, export_copy))
    assert "timestamp.unparseable" in found


def test_schema_type_and_missing_field(contract: Contract, export_copy: Path) -> None:
    edit_record(export_copy, "tasks.jsonl", 1, lambda r: r.update(priority="high"))
    edit_record(export_copy, "cards.jsonl", 1, lambda r: r.pop("title"))
    report = validate_export(contract, export_copy)
    assert {(f.rule, f.file) for f in report.findings} == {
        ("record.schema", "tasks.jsonl"),
        ("record.schema", "cards.jsonl"),
    }


def test_redacted_field_present(contract: Contract, export_copy: Path) -> None:
    edit_record(export_copy, "users.jsonl", 0, lambda r: r.update(api_key=None))
    assert "redaction.field_present" in rules(validate_export(contract, export_copy))


def test_password_hash_left_in_a_record_is_found_and_not_echoed(
    contract: Contract, export_copy: Path
) -> None:
    secret = "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
    edit_record(export_copy, "cards.jsonl", 0, lambda r: r.update(body=f"old login {secret}"))
    report = validate_export(contract, export_copy)
    assert rules(report) == {"redaction.secret"}
    text = json.dumps(report.summary())
    assert secret not in text and secret[7:20] not in text


def test_signed_url_left_in_a_record_is_found(contract: Contract, export_copy: Path) -> None:
    url = (
        "https://bucket.s3.amazonaws.com/f.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900"
        "&X-Amz-Signature=" + "ab12" * 16
    )
    edit_record(export_copy, "notifications.jsonl", 0, lambda r: r["payload"].update(link=url))
    report = validate_export(contract, export_copy)
    finding = next(f for f in report.findings if f.rule == "redaction.secret")
    assert finding.field == "payload.link"
    assert "X-Amz-Signature=" + "ab12" not in orjson.dumps(report.summary()).decode()


def test_findings_are_bounded_but_counts_exact(contract: Contract, export_copy: Path) -> None:
    def break_all(lines: list[bytes]) -> list[bytes]:
        return [b"not json"] * 1500

    rewrite_lines(export_copy, "notifications.jsonl", break_all)
    report = validate_export(contract, export_copy)
    assert report.rule_counts["record.json"] == 1500
    assert len(report.findings) <= 1000
    assert len(report.summary()["findings"]) == 50


@pytest.mark.parametrize("threaded", [False, True], ids=["forked", "spawned"])
def test_parallel_validation_gives_the_same_report(
    contract: Contract, export_copy: Path, threaded: bool
) -> None:
    """Entity files checked in worker processes: same findings, same order, same counts.
    With another thread running (as with an embedded AWS endpoint) workers are spawned."""
    stop = threading.Event()
    if threaded:
        threading.Thread(target=stop.wait, daemon=True).start()
    rewrite_lines(export_copy, "templates.jsonl", lambda lines: [*lines, lines[0]])
    edit_record(export_copy, "cards.jsonl", 3, lambda r: r.update(task_id=10**9))
    edit_record(export_copy, "tasks.jsonl", 1, lambda r: r.update(status="lost"))
    rewrite_lines(export_copy, "users.jsonl", lambda lines: [*lines[:2], b'{"id": 1, "email": ', *lines[3:]])
    one = validate_export(contract, export_copy, workers=1).summary(max_findings=1000)
    try:
        two = validate_export(contract, export_copy, workers=2).summary(max_findings=1000)
    finally:
        stop.set()
    assert (one.pop("workers"), two.pop("workers")) == (1, 2)
    del one["seconds"], two["seconds"]
    assert one == two
    assert {"record.duplicate_id", "relationship.dangling", "enum.unknown", "record.json"} <= set(
        one["findings_by_rule"]
    )
