"""Dry-run import and gated restore against real scratch databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import RefusedError, VerificationFailed
from harness.portable.compare import compare_manifests
from harness.portable.contract import Contract
from harness.portable.dryrun import dry_run
from harness.portable.export import SourceInfo, export
from harness.portable.restore import restore
from harness.portable.validate.validator import validate_export
from harness.postgres.database import Database
from tests.helpers import edit_record


def _row_count(db: Database, table: str) -> int:
    with db.connect() as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def test_dry_run_against_empty_target_would_insert_everything(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    report = validate_export(contract, export_copy)
    result = dry_run(scratch_db, contract, export_copy, report)
    total = sum(report.manifest["entity_counts"].values())
    assert result.total("would_insert") == total
    assert (result.total("would_update"), result.total("skipped"), result.total("invalid")) == (0, 0, 0)
    assert result.zero_writes_proven
    assert result.proof["transaction_read_only"] and not result.proof["transaction_id_assigned"]
    assert _row_count(scratch_db, "users") == 0


def test_dry_run_against_identical_and_changed_target(
    contract: Contract, export_copy: Path, source_db: Database
) -> None:
    edit_record(export_copy, "tasks.jsonl", 0, lambda r: r.update(title="renamed in the export"))
    edit_record(export_copy, "cards.jsonl", 0, lambda r: r.update(lane="nowhere"))
    report = validate_export(contract, export_copy)
    result = dry_run(source_db.with_environment("production"), contract, export_copy, report)
    per = {e.entity: e for e in result.entities}
    assert per["tasks"].would_update == 1
    assert per["cards"].invalid == 1
    assert result.total("would_insert") == 0
    total = sum(report.manifest["entity_counts"].values())
    assert result.total("skipped") == total - 2
    assert result.zero_writes_proven  # a dry run may read production; it never writes


def test_zero_write_proof_notices_writes(
    contract: Contract, export_copy: Path, scratch_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proof is measured, not assumed: a real write landing during the dry run makes it unproven."""
    from harness.portable import dryrun

    report = validate_export(contract, export_copy)
    original = dryrun._plan_entity

    def plan_and_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        with scratch_db.connect() as conn:
            conn.execute(
                "INSERT INTO users (id, email, display_name, role, status, created_at, updated_at) "
                "VALUES (-1, 'x@example.test', 'x', 'member', 'active', now(), now()) "
                "ON CONFLICT (id) DO UPDATE SET display_name = users.display_name || 'x'"
            )
            conn.commit()
        return original(*args, **kwargs)

    monkeypatch.setattr(dryrun, "_plan_entity", plan_and_write)  # fault injection: a concurrent writer
    result = dry_run(scratch_db, contract, export_copy, report)
    assert not result.zero_writes_proven
    assert "users" in result.proof["changed_tables"]


def test_restore_then_reexport_is_identical(
    contract: Contract, export_copy: Path, scratch_db: Database, tmp_path: Path
) -> None:
    report = validate_export(contract, export_copy)
    result = restore(scratch_db, contract, export_copy, report)
    total = sum(report.manifest["entity_counts"].values())
    assert sum(result.inserted.values()) == total
    again = export(scratch_db, contract, tmp_path / "again", SourceInfo.from_env("scratch"))
    comparison = compare_manifests(report.manifest, again.manifest)
    assert comparison["passed"], comparison
    # restoring again updates nothing new and inserts nothing
    second = restore(scratch_db, contract, export_copy, report)
    assert sum(second.inserted.values()) == 0
    assert sum(second.updated.values()) == total


def test_restore_refuses_declared_production(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    report = validate_export(contract, export_copy)
    with pytest.raises(RefusedError, match="approve-production"):
        restore(scratch_db.with_environment("production"), contract, export_copy, report)
    assert _row_count(scratch_db, "users") == 0


def test_restore_refuses_database_that_declares_itself_production(
    contract: Contract, export_copy: Path, scratch_db: Database, admin: Database
) -> None:
    with admin.connect(autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {scratch_db.dbname} SET drill_harness.environment = 'production'")
    report = validate_export(contract, export_copy)
    with pytest.raises(RefusedError):
        restore(scratch_db, contract, export_copy, report)
    assert _row_count(scratch_db, "users") == 0
    result = restore(scratch_db, contract, export_copy, report, approval_reference="CHG-1234")
    assert result.to_dict()["approval_reference"] == "CHG-1234"
    assert _row_count(scratch_db, "users") > 0


def test_restore_refuses_an_invalid_export(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    edit_record(export_copy, "users.jsonl", 0, lambda r: r.update(role="emperor"))
    report = validate_export(contract, export_copy)
    with pytest.raises(RefusedError, match=r"validation found 1 problem"):
        restore(scratch_db, contract, export_copy, report)


def test_failed_restore_leaves_target_untouched(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    """A constraint the export cannot satisfy aborts the whole restore: all or nothing."""
    with scratch_db.connect() as conn:
        conn.execute("ALTER TABLE cards ADD CONSTRAINT short_titles CHECK (length(title) < 3)")
        conn.commit()
    report = validate_export(contract, export_copy)
    with pytest.raises(VerificationFailed, match=r"short_titles.*rolled back"):
        restore(scratch_db, contract, export_copy, report)
    assert _row_count(scratch_db, "users") == 0
