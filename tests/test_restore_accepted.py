"""Validation accepts exactly what the restore can load: every class of record the strict validator
accepts restores into a real scratch database, and each near-miss it rejects would have failed the
restore (or silently changed the data)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.portable.contract import Contract
from harness.portable.restore import restore
from harness.portable.validate.validator import validate_export
from harness.postgres.database import Database
from tests.helpers import rewrite_lines, rules

BIG = 2**63 - 1


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": ["x", 1, None, True]}
    for _ in range(levels):
        value = {"n": value}
    return value


def _add(export: Path, file: str, make: list[dict[str, Any]] | None = None, **changes: Any) -> None:
    """Append copies of the file's first record with ``changes`` applied (one per change set)."""

    def apply(lines: list[bytes]) -> list[bytes]:
        first = orjson.loads(lines[0])
        return [*lines, *(orjson.dumps({**first, **c}) for c in (make or [changes]))]

    rewrite_lines(export, file, apply)


def _append_raw(export: Path, file: str, template: str) -> None:
    """Append a hand-written line (number forms orjson would not write), built on the first record."""

    def apply(lines: list[bytes]) -> list[bytes]:
        first = orjson.loads(lines[0])
        return [*lines, template.format(**{k: orjson.dumps(v).decode() for k, v in first.items()}).encode()]

    rewrite_lines(export, file, apply)


ACCEPTED: dict[str, list[dict[str, Any]]] = {
    "tasks.jsonl": [
        {"id": BIG, "priority": 1, "title": "emoji \U0001f680 and RTL \u05e9\u05dc\u05d5\u05dd", "tags": []},
        {"id": BIG - 1, "priority": 4, "title": 'quotes " and \\ backslash\ttab\nnewline'},
        {"id": BIG - 2, "created_at": "2025-01-01t10:00:00z", "due_at": "2025-01-01T10:00:00.5+05:30"},
        {"id": BIG - 3, "updated_at": "2025-12-31T23:59:59.999999-15:59", "title": "x" * 10_000},
    ],
    "cards.jsonl": [
        {"id": BIG, "position": 2**31 - 1, "body": "combining e\u0301 and zero width \u200b"},
        {"id": BIG - 1, "position": -(2**31), "body": ""},
    ],
    "notifications.jsonl": [
        {"id": BIG, "payload": _nested(29)},  # record, payload and 30 more levels: max_depth 32
        {"id": BIG - 1, "payload": {"k:with:colons": "v:too", "arr": [{"a": 1}, {"a": 2}], "": "empty key"}},
    ],
    "templates.jsonl": [{"id": BIG, "body": {"steps": [], "weights": [0.1, -2.5e-7, 1e300]}}],
}


def test_every_record_class_the_validator_accepts_restores(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    for file, records in ACCEPTED.items():
        _add(export_copy, file, records)
    # Number forms orjson never writes but PostgreSQL reads into a bigint: an exponent, no fraction.
    _append_raw(
        export_copy,
        "files.jsonl",
        '{{"card_id":{card_id},"checksum":{checksum},"content_type":{content_type},"created_at":{created_at},'
        '"filename":{filename},"id":"ffffffff-ffff-4fff-8fff-ffffffffffff","owner_id":{owner_id},'
        '"size_bytes":1e3,"storage_uri":{storage_uri},"task_id":{task_id}}}',
    )
    report = validate_export(contract, export_copy)
    assert report.ok, [str(f) for f in report.findings[:5]]
    result = restore(scratch_db, contract, export_copy, report)
    assert result.inserted["tasks"] == report.entity_counts["tasks"]
    with scratch_db.connect() as conn:
        row = conn.execute("SELECT title, priority FROM tasks WHERE id = %s", [BIG]).fetchone()
        size = conn.execute("SELECT size_bytes FROM files WHERE id = 'ffffffff-ffff-4fff-8fff-ffffffffffff'")
        due = conn.execute("SELECT due_at FROM tasks WHERE id = %s", [BIG - 2]).fetchone()
        deep = conn.execute("SELECT payload FROM notifications WHERE id = %s", [BIG]).fetchone()
    assert row == (ACCEPTED["tasks.jsonl"][0]["title"], 1)
    assert size.fetchone() == (1000,)
    assert due is not None and due[0].isoformat() == "2025-01-01T04:30:00.500000+00:00"
    assert deep is not None and deep[0] == _nested(29)


# Each near-miss: (file, change, the rule that refuses it). Every one of them either fails the restore
# (PostgreSQL refuses it) or changes what comes back; the validator must say so first.
REJECTED: list[tuple[str, dict[str, Any], str]] = [
    ("tasks.jsonl", {"id": BIG + 1}, "type.integer"),  # beyond bigint
    ("tasks.jsonl", {"priority": 2.0}, "type.integer"),  # "invalid input syntax for type bigint"
    ("cards.jsonl", {"position": 2**31}, "type.integer"),  # integer column
    ("cards.jsonl", {"body": "NUL \x00 inside"}, "record.nul"),  # text cannot hold U+0000
    ("notifications.jsonl", {"payload": {"k": "\x00"}}, "record.nul"),  # neither can jsonb
    ("notifications.jsonl", {"payload": _nested(30)}, "record.depth"),  # one level over max_depth
    ("tasks.jsonl", {"due_at": "2025-W01-1T00:00:00Z"}, "timestamp.unparseable"),
    ("tasks.jsonl", {"due_at": "20250101T000000Z"}, "timestamp.unparseable"),
    ("tasks.jsonl", {"due_at": "2025-01-01T00Z"}, "timestamp.unparseable"),
    ("tasks.jsonl", {"due_at": "2025-01-01T00:00:00.1234567Z"}, "timestamp.unparseable"),  # rounded
    ("tasks.jsonl", {"due_at": "2025-01-01T00:00:00-23:59"}, "timestamp.unparseable"),  # out of range
    ("files.jsonl", {"id": "ffffffff-ffff-4fff-8fff-fffffffffff"}, "type.column"),
]


@pytest.mark.parametrize(("file", "change", "rule"), REJECTED, ids=[r for _, _, r in REJECTED])
def test_records_the_restore_cannot_load_are_refused_by_validation(
    contract: Contract, export_copy: Path, file: str, change: dict[str, Any], rule: str
) -> None:
    change = {**change, "id": change.get("id", BIG)} if file != "files.jsonl" else change
    _add(export_copy, file, **change)
    assert rule in rules(validate_export(contract, export_copy))
