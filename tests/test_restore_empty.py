"""The restore's bulk load into an empty target (harness/portable/restore_empty.py), on real
PostgreSQL: it checks every constraint before commit, puts the schema back exactly, rolls back
whole and names the entity on failure, and steps aside for the upsert whenever it could not put
something back exactly."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from harness.errors import VerificationFailed
from harness.portable import restore_empty
from harness.portable.contract import Contract
from harness.portable.restore import apply_schema, restore
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.validator import validate_export
from harness.postgres.database import Database, create_database
from tests.helpers import edit_record

TABLES: tuple[str, ...] = (
    "users",
    "templates",
    "tasks",
    "cards",
    "recurring_configs",
    "files",
    "notifications",
)
TABLES += ("assistant_jobs", "artifacts", "audit_events", "sessions")

CATALOG_SQL = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated,
       obj_description(oid, 'pg_constraint')
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT tablename, indexname, indexdef, true, obj_description(to_regclass(indexname), 'pg_class')
FROM pg_indexes WHERE schemaname = 'public'
ORDER BY 1, 2, 3
"""


def catalog(db: Database) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(CATALOG_SQL).fetchall()]


def digests(db: Database) -> dict[str, str]:
    with db.connect() as conn:
        out = {}
        for t in TABLES:
            row = conn.execute(f"SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM {t} t").fetchone()
            out[t] = row[0] if row else ""
        return out


def count(db: Database, table: str) -> int:
    with db.connect() as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else -1


def run_sql(db: Database, *statements: str) -> None:
    with db.connect() as conn:
        for statement in statements:
            conn.execute(statement.encode())  # test-owned literal SQL
        conn.commit()


def unvalidated(export_dir: Path) -> ValidationReport:
    """A clean report for an export the validator would refuse: the restore's own checks must hold."""
    return ValidationReport(export_dir)


def test_bulk_load_puts_back_every_constraint_index_and_comment(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    with scratch_db.connect() as conn:
        conn.execute("COMMENT ON INDEX tasks_owner_idx IS 'who owns what'")
        conn.execute("COMMENT ON CONSTRAINT cards_task_id_fkey ON cards IS 'a card may float'")
        conn.commit()
    before = catalog(scratch_db)
    report = validate_export(contract, export_copy)
    result = restore(scratch_db, contract, export_copy, report)
    assert result.method == restore_empty.METHOD and result.bulk_load_skipped is None
    assert result.inserted == report.entity_counts
    assert sum(result.updated.values()) == 0
    assert catalog(scratch_db) == before
    assert ("cards", "cards_task_id_fkey") in {r[:2] for r in before}
    assert any(r[4] == "who owns what" for r in before) and any(r[4] == "a card may float" for r in before)


def test_bulk_load_and_upsert_load_the_same_rows(
    contract: Contract, export_copy: Path, scratch_db: Database, admin: Database
) -> None:
    """The same export through both paths: the upsert (for a role that does not own the tables,
    which makes the bulk load step aside for real) and the bulk load give identical tables."""
    report = validate_export(contract, export_copy)
    twin = create_database(admin, f"{scratch_db.dbname}_twin").with_environment("scratch")
    apply_schema(twin, "reference", Path.cwd())
    role, password = f"restorer_{secrets.token_hex(3)}", secrets.token_hex(12)
    with twin.connect() as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.commit()
    restricted = Database(twin.host, twin.port, twin.dbname, role, password, "embedded", "scratch")
    upserted = restore(restricted, contract, export_copy, report)
    assert upserted.method == "upsert"
    assert upserted.bulk_load_skipped is not None and "does not own" in upserted.bulk_load_skipped
    bulk = restore(scratch_db, contract, export_copy, report)
    assert bulk.method == restore_empty.METHOD
    assert upserted.inserted == bulk.inserted
    assert digests(twin) == digests(scratch_db)


def test_foreign_keys_are_checked_before_commit(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    before = catalog(scratch_db)
    edit_record(export_copy, "tasks.jsonl", 3, lambda r: r.update(owner_id=987_654_321))
    with pytest.raises(VerificationFailed) as caught:
        restore(scratch_db, contract, export_copy, unvalidated(export_copy))
    message = str(caught.value)
    assert "entity 'tasks' (foreign key tasks_owner_id_fkey)" in message
    assert "violates foreign key constraint" in message and "rolled back" in message
    assert "987654321" not in message  # the key's value is on the server's DETAIL line, never shown
    assert all(count(scratch_db, t) == 0 for t in TABLES)
    assert catalog(scratch_db) == before


def test_unique_and_check_constraints_hold_during_the_load(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    first = edit_record(export_copy, "users.jsonl", 0, lambda r: None)
    edit_record(export_copy, "users.jsonl", 1, lambda r: r.update(email=first["email"]))
    with pytest.raises(VerificationFailed, match=r"entity 'users'.*users_email_key.*rolled back"):
        restore(scratch_db, contract, export_copy, unvalidated(export_copy))
    assert count(scratch_db, "users") == 0

    edit_record(export_copy, "users.jsonl", 1, lambda r: r.update(email="unique@example.test"))
    edit_record(export_copy, "cards.jsonl", 0, lambda r: r.update(lane="nowhere"))
    with pytest.raises(VerificationFailed, match=r"entity 'cards'.*cards_lane_check.*rolled back"):
        restore(scratch_db, contract, export_copy, unvalidated(export_copy))
    assert count(scratch_db, "users") == 0


def test_a_target_holding_rows_is_upserted(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    run_sql(
        scratch_db,
        "INSERT INTO users (id, email, display_name, role, status, created_at, updated_at) "
        "VALUES (-5, 'kept@example.test', 'kept', 'member', 'active', now(), now())",
    )
    report = validate_export(contract, export_copy)
    result = restore(scratch_db, contract, export_copy, report)
    assert result.method == "upsert" and result.bulk_load_skipped == "the target already holds rows"
    assert result.inserted == report.entity_counts
    assert count(scratch_db, "users") == report.entity_counts["users"] + 1


def test_not_valid_foreign_keys_make_the_bulk_load_step_aside(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    """Re-adding a NOT VALID key would not check the loaded rows: the upsert checks each one instead."""
    run_sql(
        scratch_db,
        "ALTER TABLE artifacts ADD CONSTRAINT artifacts_task_again FOREIGN KEY (task_id) "
        "REFERENCES tasks (id) NOT VALID",
    )
    result = restore(scratch_db, contract, export_copy, validate_export(contract, export_copy))
    assert result.method == "upsert"
    assert "artifacts_task_again" in (result.bulk_load_skipped or "")


def test_triggers_fire_and_are_not_truncated_around(
    contract: Contract, export_copy: Path, scratch_db: Database
) -> None:
    """A table with triggers is not truncated (a TRUNCATE trigger would fire); row triggers still fire."""
    with scratch_db.connect() as conn:
        conn.execute("CREATE TABLE trigger_log (what text NOT NULL)")
        conn.execute(
            "CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN INSERT INTO trigger_log VALUES (TG_OP); RETURN NULL; END $$"
        )
        conn.execute("CREATE TRIGGER on_card AFTER INSERT ON cards FOR EACH ROW EXECUTE FUNCTION log_it()")
        conn.execute(
            "CREATE TRIGGER on_cut AFTER TRUNCATE ON cards FOR EACH STATEMENT EXECUTE FUNCTION log_it()"
        )
        conn.commit()
    report = validate_export(contract, export_copy)
    result = restore(scratch_db, contract, export_copy, report)
    assert result.method == restore_empty.METHOD
    with scratch_db.connect() as conn:
        logged = dict(conn.execute("SELECT what, count(*) FROM trigger_log GROUP BY 1").fetchall())
    assert logged == {"INSERT": report.entity_counts["cards"]}
