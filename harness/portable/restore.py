"""Restore (import) a validated export into a target database — an explicit, gated step.

Safety rules, checked before any connection writes:

* the export must have validated cleanly (no findings);
* a target declared production — by the scenario or CLI, or by the database
  itself via the ``drill_harness.environment`` setting — is refused unless a
  human approval reference is given (``--approve-production REF``); the
  reference is recorded in the evidence. Automated drills never pass one.

Each entity file is streamed with COPY into a temporary staging table of raw
JSON documents and upserted with ``jsonb_populate_record`` in referential
order, all in one transaction: a failure leaves the target untouched. Into an
empty target the same transaction bulk-loads instead, with foreign keys and plain
indexes dropped and put back before commit (``harness.portable.restore_empty``), COPYing records
straight into their tables where the client converts them exactly (``harness.portable.restore_copy``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from harness.errors import ConfigError, RefusedError, VerificationFailed, first_line
from harness.portable import restore_copy, restore_empty
from harness.portable.contract import Contract, Entity
from harness.portable.target_schema import schema_ddl
from harness.portable.validate.findings import ValidationReport
from harness.postgres.database import Database
from harness.postgres.errors import server_error

PRODUCTION = "production"
_CHUNK = 1 << 20


@dataclass
class RestoreResult:
    target: dict[str, Any]
    approval_reference: str | None
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    method: str = "upsert"
    bulk_load_skipped: str | None = None  # why an empty-target bulk load did not run
    loaded_by: dict[str, str] = field(default_factory=dict)  # bulk load: typed COPY, or staged and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "approval_reference": self.approval_reference,
            "inserted": sum(self.inserted.values()),
            "updated": sum(self.updated.values()),
            "per_entity": {
                k: {"inserted": self.inserted[k], "updated": self.updated[k]} for k in self.inserted
            },
            "seconds": round(self.seconds, 3),
            "method": self.method,
            "bulk_load_skipped": self.bulk_load_skipped,
            "loaded_by": self.loaded_by,
        }


def apply_schema(db: Database, schema_sql: str, scenario_dir: Path, contract: Contract | None = None) -> None:
    """Create the application schema in a scratch target: ``reference`` is the bundled schema,
    ``contract`` the tables the contract describes (harness/portable/target_schema.py), anything
    else a SQL file relative to the scenario."""
    statements: list[Any]
    if schema_sql == "contract":
        if contract is None:
            raise ConfigError("target.schema_sql: 'contract' needs the lane's contract")
        statements = list(schema_ddl(contract))
    elif schema_sql == "reference":
        text = resources.files("harness.dataset").joinpath("schema.sql").read_text(encoding="utf-8")
        statements = [text.encode()]
    else:
        path = (scenario_dir / schema_sql).resolve()
        if not path.is_file():
            raise ConfigError(f"target.schema_sql: {path} not found")
        statements = [path.read_text(encoding="utf-8").encode()]
    with db.connect() as conn:
        try:
            for statement in statements:
                conn.execute(statement)
        except psycopg.Error as exc:
            raise ConfigError(f"target.schema_sql ({schema_sql}): {first_line(exc)}") from None
        conn.commit()


def declared_environment(db: Database) -> str:
    """The target's environment: production if either the caller or the database says so."""
    if db.environment == PRODUCTION:
        return PRODUCTION
    with db.connect(autocommit=True) as conn:
        row = conn.execute("SELECT current_setting('drill_harness.environment', true)").fetchone()
    from_db = (row[0] or "").strip().lower() if row else ""
    return PRODUCTION if from_db == PRODUCTION else db.environment


def check_write_allowed(db: Database, approval_reference: str | None) -> str:
    """Raise RefusedError for a production target without an approval reference."""
    environment = declared_environment(db)
    if environment == PRODUCTION and not (approval_reference and approval_reference.strip()):
        raise RefusedError(
            f"refusing to write to {db.label}: the target is declared production. A restore into "
            "production needs a human approval: pass --approve-production <change/incident reference>"
        )
    return environment


def _copy_file(cur: psycopg.Cursor[Any], path: Path) -> None:
    with path.open("rb") as fh, cur.copy("COPY drill_stage (doc) FROM STDIN") as copy:
        while chunk := fh.read(_CHUNK):
            # JSON never holds raw tabs/newlines inside a line; only backslashes need COPY escaping.
            copy.write(chunk.replace(b"\\", b"\\\\"))


def _unmapped_fields(cur: psycopg.Cursor[Any], ent: Entity) -> list[str]:
    """Fields the staged records hold that have no column in the target table (a restore never drops
    a field silently: ``jsonb_populate_record`` would)."""
    assert ent.table is not None
    columns = {
        str(r[0])
        for r in cur.execute(
            "SELECT attname FROM pg_attribute"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [ent.table],
        ).fetchall()
    }
    # A key is held iff its column exists: a column under its own name (unless the contract maps
    # that name elsewhere) or a mapped field whose column exists. One scan says whether any record
    # holds another key; only then are the keys listed (for the message).
    held = sorted(
        {c for c in columns if c not in ent.columns} | {f for f, c in ent.columns.items() if c in columns}
    )
    row = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM drill_stage WHERE doc - %s::text[] <> '{}'::jsonb)", [held]
    ).fetchone()
    if not (row and row[0]):
        return []
    keys = [
        str(r[0]) for r in cur.execute("SELECT DISTINCT jsonb_object_keys(doc) FROM drill_stage").fetchall()
    ]
    return sorted(k for k in keys if ent.column(k) not in columns)


def _staged_document(ent: Entity) -> sql.Composable:
    """The staged record with its fields renamed to their columns (the contract's ``columns``)."""
    doc: sql.Composable = sql.SQL("s.doc")
    renamed = sorted((f, c) for f, c in ent.columns.items() if f != c)
    if not renamed:
        return doc
    pairs = sql.SQL(", ").join(
        sql.SQL("{}, s.doc -> {}").format(sql.Literal(column), sql.Literal(fld)) for fld, column in renamed
    )
    dropped = sql.SQL(", ").join(sql.Literal(fld) for fld, _ in renamed)
    # Not jsonb_strip_nulls: that also drops null members nested in a renamed field's objects, a
    # silent change of the data; a null or absent field populates NULL either way.
    return sql.SQL("jsonb_build_object({}) || (s.doc - ARRAY[{}]::text[])").format(pairs, dropped)


def _target(ent: Entity) -> tuple[sql.Composable, list[sql.Identifier], sql.Composable]:
    """The entity's table, the columns its records are populated into (in this order) and the staged
    document (alias ``s``) to populate them from."""
    assert ent.table is not None
    table = sql.Identifier(*ent.table.split("."))
    return table, [sql.Identifier(ent.column(f)) for f in ent.fields], _staged_document(ent)


def _stage(cur: psycopg.Cursor[Any], ent: Entity, export_dir: Path) -> str | None:
    """COPY the entity's file into ``drill_stage``; a message when a field has no column (then
    nothing may be written)."""
    _copy_file(cur, export_dir / ent.file)
    unmapped = _unmapped_fields(cur, ent)
    if not unmapped:
        return None
    return (
        f"entity {ent.name!r}: field(s) {', '.join(unmapped)} have no column in table "
        f"{ent.table!r}; a restore never drops a field: nothing was written"
    )


def _upsert(cur: psycopg.Cursor[Any], ent: Entity) -> tuple[int, int]:
    table, cols, doc = _target(ent)
    keys = [sql.Identifier(ent.column(f)) for f in ent.key_fields]
    updates = [sql.SQL("{} = EXCLUDED.{}").format(c, c) for c in cols if c not in keys]
    conflict = (
        sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(updates)) if updates else sql.SQL("DO NOTHING")
    )
    query = sql.SQL(
        """WITH up AS (
             INSERT INTO {table} ({cols})
             SELECT {rcols} FROM drill_stage s, jsonb_populate_record(NULL::{table}, {doc}) AS r
             ON CONFLICT ({pk}) {conflict}
             RETURNING (xmax = 0) AS inserted)
           SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up"""
    ).format(
        table=table,
        cols=sql.SQL(", ").join(cols),
        rcols=sql.SQL(", ").join(sql.SQL("r.{}").format(c) for c in cols),
        pk=sql.SQL(", ").join(keys),
        doc=doc,
        conflict=conflict,
    )
    row = cur.execute(query).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def restore(
    db: Database,
    contract: Contract,
    export_dir: Path,
    report: ValidationReport,
    *,
    approval_reference: str | None = None,
) -> RestoreResult:
    """Import every entity of a cleanly validated export into ``db`` in one transaction."""
    if not report.ok:
        raise RefusedError(
            f"refusing to restore {export_dir}: validation found {report.error_count} problem(s); "
            "fix the export or restore from another archive"
        )
    for ent in contract.entities:
        if not ent.table:
            raise ConfigError(
                f"{contract.path}: entity {ent.name!r} is exported from a query; import needs a table"
            )
    check_write_allowed(db, approval_reference)
    started = time.perf_counter()
    result = RestoreResult(target=db.describe(), approval_reference=approval_reference)
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE drill_stage (doc jsonb NOT NULL) ON COMMIT DROP")
        if _bulk_load(conn, cur, db, contract, Path(export_dir), result):
            result.seconds = time.perf_counter() - started
            return result
        cur.execute("SET CONSTRAINTS ALL DEFERRED")  # reference cycles: checked at commit, all at once
        for ent in contract.load_order():
            try:
                unmapped = _stage(cur, ent, Path(export_dir))
                if unmapped:
                    conn.rollback()
                    raise VerificationFailed(unmapped)
                inserted, updated = _upsert(cur, ent)
            except psycopg.Error as exc:
                conn.rollback()
                detail = server_error(exc)
                raise VerificationFailed(
                    f"restore of entity {ent.name!r} into {db.label} failed: {detail}; "
                    "the transaction was rolled back, nothing was written"
                ) from None
            result.inserted[ent.name] = inserted
            result.updated[ent.name] = updated
            cur.execute("TRUNCATE drill_stage")
        try:
            conn.commit()  # deferred constraints are checked here
        except psycopg.Error as exc:
            raise VerificationFailed(
                f"restore into {db.label} failed at commit (deferred constraints): {server_error(exc)}; "
                "nothing was written"
            ) from None
    result.seconds = time.perf_counter() - started
    return result


def _bulk_load(
    conn: psycopg.Connection[Any],
    cur: psycopg.Cursor[Any],
    db: Database,
    contract: Contract,
    export_dir: Path,
    result: RestoreResult,
) -> bool:
    """The empty-target fast path (committed here), or False when it does not apply."""
    entities = contract.load_order()
    plan = restore_empty.eligibility(cur, entities)
    if plan.reason is not None:
        result.bulk_load_skipped = plan.reason
        return False

    def stage(c: psycopg.Cursor[Any], ent: Entity) -> None:
        refused = _stage(c, ent, export_dir)
        if refused:
            raise VerificationFailed(refused)

    def typed(c: psycopg.Cursor[Any], ent: Entity) -> int | None:
        try:
            rows, how = restore_copy.load(c, ent, export_dir / ent.file)
        except restore_copy.CopyRefused as exc:
            raise restore_empty.LoadFailed(exc.what, exc.detail) from None
        result.loaded_by[ent.name] = how
        return rows

    try:
        inserted = restore_empty.load_empty_target(cur, entities, plan, stage, _target, typed)
    except VerificationFailed:
        conn.rollback()
        raise
    except restore_empty.LoadFailed as exc:
        conn.rollback()
        raise VerificationFailed(
            f"restore of {exc.what} into {db.label} failed: {exc.detail}; "
            "the transaction was rolled back, nothing was written"
        ) from None
    try:
        conn.commit()
    except psycopg.Error as exc:  # nothing is deferred on this path (eligibility); still never a crash
        raise VerificationFailed(
            f"restore into {db.label} failed at commit: {server_error(exc)}; nothing was written"
        ) from None
    result.method = restore_empty.METHOD
    result.inserted = inserted
    result.updated = dict.fromkeys(inserted, 0)
    return True
