"""The dry run's comparison in the server (harness/portable/dryrun.py): every lookup shape gives
the same plan — key ranges (ascending integer keys), ranges over sparse keys that fall back to
per-key lookups, shuffled files and repeated keys — and a changed record is never skipped."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness.portable import dryrun
from harness.portable.contract import Contract
from harness.portable.dryrun import dry_run
from harness.portable.validate.findings import ValidationReport
from harness.postgres.database import Database
from tests.helpers import edit_record, rewrite_lines


def plan(db: Database, contract: Contract, export_dir: Path) -> dict[str, dict[str, int]]:
    result = dry_run(db, contract, export_dir, ValidationReport(export_dir))
    assert result.zero_writes_proven
    return {e.entity: e.to_dict() for e in result.entities}


@pytest.mark.parametrize("shape", ["sparse", "shuffled", "repeated"])
def test_every_lookup_shape_gives_the_same_plan(
    contract: Contract, export_copy: Path, source_db: Database, shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dryrun, "BATCH_BYTES", 50 * 250)  # many batches (~50 lines), so every path is taken
    original = (export_copy / "tasks.jsonl").read_bytes().splitlines()[7]
    edit_record(export_copy, "tasks.jsonl", 7, lambda r: r.update(title="changed"))
    if shape == "sparse":  # every 9th record: ranges hold ~9x the batch, over the cap
        rewrite_lines(export_copy, "tasks.jsonl", lambda lines: [*lines[::9], lines[7]])
    elif shape == "shuffled":
        rewrite_lines(export_copy, "tasks.jsonl", lambda lines: random.Random(3).sample(lines, len(lines)))
    else:  # the changed record, then its original in the same batch: the last one wins, as in the upsert
        rewrite_lines(export_copy, "tasks.jsonl", lambda lines: [*lines[:8], original, *lines[8:]])
    lines = (export_copy / "tasks.jsonl").read_bytes().splitlines()
    tasks = plan(source_db, contract, export_copy)["tasks"]
    changed = 0 if shape == "repeated" else 1
    assert tasks == {
        "would_insert": 0,
        "would_update": changed,
        "skipped": len(lines) - changed - (1 if shape == "repeated" else 0),
        "invalid": 0,
    }


def test_keys_missing_from_the_target_would_be_inserted_in_a_range(
    contract: Contract, export_copy: Path, source_db: Database
) -> None:
    with source_db.connect() as conn:
        conn.execute("DELETE FROM audit_events WHERE id % 3 = 0")
        deleted = conn.execute("SELECT count(*) FROM audit_events").fetchone()
        conn.commit()
    total = len((export_copy / "audit_events.jsonl").read_bytes().splitlines())
    audit = plan(source_db, contract, export_copy)["audit_events"]
    assert deleted is not None
    assert audit["skipped"] == deleted[0]
    assert audit["would_insert"] == total - deleted[0]
    assert audit["would_update"] == 0
