"""The dry run's fast compare (harness/portable/dryrun_server.py) against the general paths: a key
range settled by one digest of the batch, several backends on one exported snapshot. On randomized
targets and hand-edited export lines its plan is the row-by-row compare's (one backend, no digest),
and where only the target differs it is also the canonical-form compare's (the v2 path)."""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.portable import dryrun
from harness.portable import dryrun_server as server
from harness.portable.contract import Contract
from harness.portable.export import ExportResult
from harness.portable.validate.findings import ValidationReport
from harness.postgres.database import Database, create_database
from tests.conftest import TEMPLATE_DB

Plan = dict[str, dict[str, int]]
TASK_COLUMNS = (
    "owner_id, assignee_id, template_id, title, status, priority, tags, due_at, created_at, updated_at"
)


def plan(db: Database, contract: Contract, export_dir: Path, path: str) -> Plan:
    """The dry run's plan by one path: ``fast`` (two backends, range digests), ``rows`` (one backend,
    every batch row by row: the compare before the digest) or ``canonical`` (the v2 client path)."""
    with contextlib.ExitStack() as stack:
        # many batches (of ~37 lines), ranges and a short last one
        stack.enter_context(patch.object(dryrun, "BATCH", 37))
        stack.enter_context(patch.object(dryrun, "BATCH_BYTES", 37 * 250))
        stack.enter_context(patch.object(dryrun, "BACKENDS", 1 if path == "rows" else 2))
        if path == "rows":
            stack.enter_context(patch.object(server, "_DIGEST_KEY_TYPES", {}))
        if path == "canonical":
            stack.enter_context(patch.object(dryrun, "compares_in_server", lambda contract, ent: False))
        result = dryrun.dry_run(db, contract, export_dir, ValidationReport(export_dir))
    assert result.zero_writes_proven
    assert result.proof["backends"] == (1 if path == "rows" else 2)
    return {e.entity: e.to_dict() for e in result.entities}


def _sql(db: Database, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    with db.connect() as conn:
        conn.execute("SET session_replication_role = replica")  # deletes without the foreign keys
        for statement, params in statements:
            conn.execute(statement, params)
        conn.commit()


#: Changes to the target, each one a real change of value (the canonical compare sees it too).
TARGET_CHANGES: dict[str, Callable[[int, str], tuple[str, tuple[Any, ...]]]] = {
    "delete": lambda k, s: ("DELETE FROM tasks WHERE id = %s", (k,)),
    "title": lambda k, s: ("UPDATE tasks SET title = %s WHERE id = %s", (s, k)),
    "null": lambda k, s: ("UPDATE tasks SET assignee_id = NULL, due_at = NULL WHERE id = %s", (k,)),
    "microsecond": lambda k, s: (
        "UPDATE tasks SET updated_at = updated_at + interval '1 microsecond' WHERE id = %s",
        (k,),
    ),
    "numeric": lambda k, s: (
        "UPDATE templates SET body = jsonb_build_object('n', 1.50, 'big', 12345678901234567890, "
        "'s', %s::text) WHERE id = %s",
        (s, k),
    ),
    "extra": lambda k, s: (
        f"INSERT INTO tasks (id, {TASK_COLUMNS}) SELECT id + 1000000, {TASK_COLUMNS} FROM tasks "
        "WHERE id = %s ON CONFLICT DO NOTHING",
        (k,),
    ),
    "card": lambda k, s: ("UPDATE cards SET body = %s WHERE id = %s", (s, k)),
    "file": lambda k, s: (
        "UPDATE files SET filename = %s WHERE id = (SELECT id FROM files ORDER BY id OFFSET %s LIMIT 1)",
        (s, k),
    ),
    "file-delete": lambda k, s: (
        "DELETE FROM files WHERE id = (SELECT id FROM files ORDER BY id OFFSET %s LIMIT 1)",
        (k,),
    ),
}


def _edit(lines: list[bytes], kind: str, i: int, text: str) -> list[bytes]:
    """One hand edit of an export's lines (tasks.jsonl; ``file-`` edits: files.jsonl, uuid keys):
    most change bytes, not always meaning."""
    i %= len(lines)
    line, record = lines[i], orjson.loads(lines[i])
    edits: dict[str, Callable[[], list[bytes]]] = {
        "drop": lambda: lines[:i] + lines[i + 1 :],  # the target keeps a row the batch lacks
        "repeat": lambda: [*lines[: i + 1], line, *lines[i + 1 :]],
        "repeat-changed": lambda: [*lines[: i + 1], orjson.dumps({**record, "title": text}), *lines[i + 1 :]],
        "swap": lambda: [*lines[: i - 1], line, lines[i - 1], *lines[i + 1 :]] if i else lines,
        "missing-field": lambda: _put(
            lines, i, orjson.dumps({k: v for k, v in record.items() if k != "template_id"})
        ),
        "null-field": lambda: _put(lines, i, orjson.dumps({**record, "title": None})),
        "trailing-zero": lambda: _put(
            lines,
            i,
            line.replace(
                b'"priority":' + str(record["priority"]).encode(),
                b'"priority":' + str(record["priority"]).encode() + b".0",
            ),
        ),
        "offset": lambda: _put(lines, i, line.replace(b'Z"', b'+00:00"', 1)),
        "other-offset": lambda: _put(
            lines, i, orjson.dumps({**record, "created_at": "2025-01-01T02:00:00.000000+02:00"})
        ),
        "escape": lambda: _put(lines, i, line.replace(b'"title":"', b'"title":"\\u0041', 1)),
        "unicode": lambda: _put(lines, i, orjson.dumps({**record, "title": text})),
        "space": lambda: _put(lines, i, line.replace(b":", b": ", 1)),
        "new-key": lambda: [*lines, orjson.dumps({**record, "id": 5_000_000 + i})],
        "big-key": lambda: [*lines, orjson.dumps({**record, "id": 2**62 + i})],
        "string-key": lambda: _put(lines, i, orjson.dumps({**record, "id": str(record["id"])})),
        "crlf": lambda: _put(lines, i, line + b"\r"),
        "other-row": lambda: _put(lines, i, lines[(7 * i + 3) % len(lines)]),  # another row's own line
        "file-drop": lambda: lines[:i] + lines[i + 1 :],
        "file-swap": lambda: [*lines[: i - 1], line, lines[i - 1], *lines[i + 1 :]] if i else lines,
        "file-repeat": lambda: [*lines[: i + 1], line, *lines[i + 1 :]],
        "file-upper": lambda: _put(lines, i, orjson.dumps({**record, "id": str(record["id"]).upper()})),
        "file-new": lambda: [*lines, orjson.dumps({**record, "id": f"ffffffff-ffff-4fff-8fff-{i:012x}"})],
    }
    return edits[kind]()


def _put(lines: list[bytes], i: int, line: bytes) -> list[bytes]:
    return [*lines[:i], line, *lines[i + 1 :]]


_texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_target = st.lists(
    st.tuples(st.sampled_from(sorted(TARGET_CHANGES)), st.integers(1, 200), _texts), max_size=6
)
_edits = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "drop",
                "repeat",
                "repeat-changed",
                "swap",
                "missing-field",
                "null-field",
                "trailing-zero",
                "offset",
                "other-offset",
                "escape",
                "unicode",
                "space",
                "new-key",
                "big-key",
                "string-key",
                "crlf",
                "other-row",
                "file-drop",
                "file-swap",
                "file-repeat",
                "file-upper",
                "file-new",
            ]
        ),
        st.integers(0, 10_000),
        _texts,
    ),
    max_size=5,
)
_targets = itertools.count()


@contextlib.contextmanager
def _scratch_export(reference_export: ExportResult) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dryrun-digest-") as tmp:
        import shutil

        dest = Path(tmp) / "export"
        shutil.copytree(reference_export.directory, dest)
        yield dest


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target_changes=_target, edits=_edits)
def test_the_fast_compare_plans_as_the_row_by_row_and_canonical_compares(
    admin: Database,
    template_db: Database,
    contract: Contract,
    reference_export: ExportResult,
    target_changes: list[tuple[str, int, str]],
    edits: list[tuple[str, int, str]],
) -> None:
    target = create_database(admin, "dryrun_digest_target", template=TEMPLATE_DB)
    _sql(target, [TARGET_CHANGES[kind](key, text) for kind, key, text in target_changes])
    with _scratch_export(reference_export) as export_dir:
        for kind, index, text in edits:
            path = export_dir / ("files.jsonl" if kind.startswith("file-") else "tasks.jsonl")
            lines = _edit(path.read_bytes().splitlines(), kind, index, text)
            path.write_bytes(b"".join(line + b"\n" for line in lines))
        fast = plan(target, contract, export_dir, "fast")
        assert fast == plan(target, contract, export_dir, "rows")
        if not edits:  # the export is the exporter's own bytes: byte and canonical identity agree
            assert fast == plan(target, contract, export_dir, "canonical")


def test_identical_and_empty_ranges_are_settled_without_a_row_compare(
    source_db: Database, scratch_db: Database, contract: Contract, export_copy: Path
) -> None:
    """On an identical target no batch is compared row by row, on an empty one only the batches of
    uuid keys (their order in the client may not be the column's), and one changed row sends only
    its own batch row by row."""
    by_rows: list[type | None] = []
    parsed: list[int] = []
    original, parse = server.Batch.params, server.parse_batch

    def spy(self: server.Batch) -> dict[str, Any]:
        by_rows.append(self.span[0] if self.span else None)
        return original(self)

    def parse_spy(lines: list[bytes], pk: str, invalid: set[str]) -> server.Batch:
        parsed.append(len(lines))
        return parse(lines, pk, invalid)

    counts = {e.name: len((export_copy / e.file).read_bytes().splitlines()) for e in contract.entities}
    with patch.object(server.Batch, "params", spy), patch.object(server, "parse_batch", parse_spy):
        identical = plan(source_db, contract, export_copy, "fast")
        assert by_rows == [] and parsed == []  # settled by each block's digest: no line was parsed
        empty = plan(scratch_db, contract, export_copy, "fast")
        assert by_rows and set(by_rows) == {str}
        assert sum(parsed) == sum(counts.values())  # every line parsed once, for its key
        by_rows.clear()
        parsed.clear()
        _sql(source_db, [("UPDATE tasks SET title = title || '!' WHERE id = 40", ())])
        changed = plan(source_db, contract, export_copy, "fast")
        assert by_rows == [int]
        assert 0 < sum(parsed) < counts["tasks"]  # the changed row's block, and perhaps a few read ahead
    assert identical == {
        n: {"would_insert": 0, "would_update": 0, "skipped": c, "invalid": 0} for n, c in counts.items()
    }
    assert empty == {
        n: {"would_insert": c, "would_update": 0, "skipped": 0, "invalid": 0} for n, c in counts.items()
    }
    assert changed["tasks"] == {
        "would_insert": 0,
        "would_update": 1,
        "skipped": counts["tasks"] - 1,
        "invalid": 0,
    }


def test_the_backends_read_one_snapshot_and_write_nothing(source_db: Database) -> None:
    with contextlib.ExitStack() as stack:
        conns = server.readers(source_db, stack, 3)
        before = conns[0].execute("SELECT display_name FROM users WHERE id = 1").fetchone()
        _sql(source_db, [("UPDATE users SET display_name = 'after the snapshot' WHERE id = 1", ())])
        for conn in conns:
            assert conn.execute("SELECT display_name FROM users WHERE id = 1").fetchone() == before
            assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
            assert conn.execute("SELECT txid_current_if_assigned()").fetchone() == (None,)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("UPDATE users SET display_name = 'x' WHERE id = 2")


@pytest.mark.parametrize("backends", [1, 2, 3])
def test_an_error_in_any_backend_surfaces(
    source_db: Database, contract: Contract, export_copy: Path, backends: int
) -> None:
    """A key the target's column cannot hold fails the dry run on every backend count (no hang)."""
    lines = (export_copy / "tasks.jsonl").read_bytes().splitlines()
    record = orjson.loads(lines[-1])
    lines.append(orjson.dumps({**record, "id": 2**63}))  # one past bigint
    (export_copy / "tasks.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    with (
        patch.object(dryrun, "BATCH_BYTES", 37 * 250),
        patch.object(dryrun, "BACKENDS", backends),
        pytest.raises(psycopg.errors.NumericValueOutOfRange),
    ):
        dryrun.dry_run(source_db, contract, export_copy, ValidationReport(export_copy))
