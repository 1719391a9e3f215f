"""The restore's fast path into an empty target: a bulk load with set-based constraint checks.

Used by :func:`harness.portable.restore.restore` inside its one transaction when every table the
contract imports is empty and the session may change those tables' schema. Then, before commit:

1. the tables are locked (ACCESS EXCLUSIVE) and checked empty again under the lock;
2. foreign keys on and into them, and their plain indexes (not backing a constraint), are dropped;
3. the tables are truncated when that is free of side effects (no triggers, TRUNCATE privilege):
   they are empty, so this only gives them new files, which lets a server with
   ``wal_level = minimal`` skip the WAL of the load;
4. each entity's records are COPYed straight into its table, converted in the client exactly as
   ``jsonb_populate_record`` would (``harness.portable.restore_copy``), or where that steps aside,
   staged and put in with a plain INSERT (no ON CONFLICT: nothing can conflict in an empty table;
   a repeated key still fails the primary key);
5. the indexes are re-created and the foreign keys re-added from their catalog definitions, with
   the same names and comments: PostgreSQL checks each foreign key over all rows in one pass
   instead of one trigger query per row.

Primary keys, unique and check constraints, NOT NULL, defaults and triggers stay in place
throughout, so every constraint is checked before the commit, and a failure anywhere rolls the
whole restore back (nothing was written, the schema is as it was). Anything this path cannot
put back exactly makes it step aside for the per-row upsert (:func:`eligibility` says why):
partitioned or inherited tables, deferrable constraints other than foreign keys and constraint
triggers (the upsert defers them to the commit; here they would block re-adding the foreign
keys), NOT VALID foreign keys, indexes that are clustered, replica
identity, invalid, in their own tablespace or with statistics targets, or tables the session
does not own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from harness.portable.contract import Entity
from harness.postgres.errors import server_error

METHOD = "bulk load into an empty target (set-based constraint checks)"

#: ``copy(cur, entity)`` stages the entity's records in ``drill_stage`` (and may refuse them by
#: raising); ``columns(entity)`` is the target table, its columns in the order the staged records
#: are populated into, and the staged document (alias ``s``) they are populated from.
CopyStage = Callable[[psycopg.Cursor[Any], Entity], None]
#: ``typed(cur, entity)`` loads the entity's records straight into its table and says how many, or
#: returns None having changed nothing (the staged path then loads them).
TypedCopy = Callable[[psycopg.Cursor[Any], Entity], int | None]
Columns = Callable[[Entity], tuple[sql.Composable, list[sql.Identifier], sql.Composable]]


class LoadFailed(Exception):
    """A statement of the bulk load failed; ``what`` names the entity (or other table) at fault and
    ``detail`` is the server's first line (never a row's values: those are on later lines)."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


@dataclass(frozen=True)
class _Constraint:
    table: str  # regclass text, as the session's search_path shows it
    name: str
    definition: str
    comment: str | None


@dataclass(frozen=True)
class _Index:
    name: str  # regclass text
    table: str
    definition: str
    comment: str | None


_TABLES_SQL = """
SELECT t.name, c.oid IS NOT NULL, c.relkind, coalesce(c.relispartition, false),
       coalesce(c.relhassubclass, false) OR EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid),
       coalesce(pg_has_role(c.relowner, 'USAGE'), false),
       coalesce(has_table_privilege(c.oid, 'TRUNCATE'), false),
       EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal),
       EXISTS (SELECT 1 FROM pg_constraint k
               WHERE k.conrelid = c.oid AND k.condeferrable AND k.contype <> 'f')
         OR EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal
                    AND g.tgconstraint <> 0)
FROM unnest(%(tables)s::text[]) AS t(name) LEFT JOIN pg_class c ON c.oid = to_regclass(t.name)
"""
_FOREIGN_KEYS_SQL = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.convalidated,
       c.conparentid <> 0, pg_has_role(r.relowner, 'USAGE'), obj_description(c.oid, 'pg_constraint')
FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
WHERE c.contype = 'f' AND (c.conrelid = ANY (%(oids)s::oid[]) OR c.confrelid = ANY (%(oids)s::oid[]))
ORDER BY 1, 2
"""
_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid),
       i.indisclustered OR i.indisreplident OR NOT i.indisvalid OR x.reltablespace <> 0
         OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0),
       obj_description(i.indexrelid, 'pg_class')
FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
WHERE i.indrelid = ANY (%(oids)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""


@dataclass
class Plan:
    """What the bulk load changes and puts back; ``reason`` says why it cannot run (None: it can)."""

    reason: str | None = None
    truncate: bool = False
    foreign_keys: tuple[_Constraint, ...] = ()
    indexes: tuple[_Index, ...] = ()
    relations: dict[str, str] = field(default_factory=dict)  # regclass text -> entity name


def _tables_empty(cur: psycopg.Cursor[Any], tables: Sequence[str]) -> bool:
    query = sql.SQL(" AND ").join(
        sql.SQL("NOT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(*t.split("."))) for t in tables
    )
    row = cur.execute(sql.SQL("SELECT ") + query).fetchone()
    return bool(row and row[0])


def eligibility(cur: psycopg.Cursor[Any], entities: Sequence[Entity]) -> Plan:
    """Whether the bulk load may run for ``entities`` (read-only queries), and its plan."""
    tables = [str(ent.table) for ent in entities]
    if len(set(tables)) != len(tables):
        return Plan("two entities import the same table")
    rows = cur.execute(_TABLES_SQL, {"tables": tables}).fetchall()
    truncate = True
    for name, exists, kind, partition, inherits, owned, may_truncate, triggers, deferrable in rows:
        if not exists:
            return Plan(f"table {name} does not exist")  # the upsert path reports it
        if kind != "r" or partition or inherits:
            return Plan(f"table {name} is partitioned or inherited")
        if deferrable:
            return Plan(
                f"table {name} has a deferrable constraint or constraint trigger besides foreign keys"
            )
        if not owned:
            return Plan(f"the session does not own table {name}")
        truncate = truncate and may_truncate and not triggers
    if not _tables_empty(cur, tables):
        return Plan("the target already holds rows")
    found = cur.execute(
        "SELECT to_regclass(t)::oid, to_regclass(t)::text FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) "
        "ORDER BY n",
        [tables],
    ).fetchall()
    oids = [oid for oid, _ in found]
    relations = {rel: ent.name for (_, rel), ent in zip(found, entities, strict=True)}
    fks: list[_Constraint] = []
    for table, name, definition, valid, inherited, owned, comment in cur.execute(
        _FOREIGN_KEYS_SQL, {"oids": oids}
    ).fetchall():
        if not valid or inherited or not owned:
            return Plan(f"foreign key {name} on {table} is NOT VALID, inherited or not owned by the session")
        fks.append(_Constraint(table, name, definition, comment))
    indexes: list[_Index] = []
    for index, table, definition, special, comment in cur.execute(_INDEXES_SQL, {"oids": oids}).fetchall():
        if special:
            return Plan(f"index {index} is clustered, replica identity, invalid or has its own settings")
        indexes.append(_Index(index, table, definition, comment))
    return Plan(None, truncate, tuple(fks), tuple(indexes), relations)


def _run(what: str, cur: psycopg.Cursor[Any], statement: sql.SQL | sql.Composed) -> None:
    try:
        cur.execute(statement)
    except psycopg.Error as exc:
        raise LoadFailed(what, server_error(exc)) from None


def _owner(plan: Plan, table: str) -> str:
    return f"entity {plan.relations[table]!r}" if table in plan.relations else f"table {table}"


def _listed(tables: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(*t.split(".")) for t in tables)


def load_empty_target(
    cur: psycopg.Cursor[Any],
    entities: Sequence[Entity],
    plan: Plan,
    copy: CopyStage,
    columns: Columns,
    typed: TypedCopy | None = None,
) -> dict[str, int]:
    """Bulk-load ``entities`` (in load order) per ``plan``; rows inserted per entity.

    Runs inside the caller's transaction; raises :class:`LoadFailed` naming what failed."""
    assert plan.reason is None
    tables = [str(ent.table) for ent in entities]
    _run(
        "the target tables (lock)",
        cur,
        sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(_listed(tables)),
    )
    if not _tables_empty(cur, tables):
        raise LoadFailed("the target tables", "rows were written into them while the restore started")
    for fk in plan.foreign_keys:
        drop = sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(fk.table), sql.Identifier(fk.name))
        _run(f"{_owner(plan, fk.table)} (foreign key {fk.name})", cur, drop)
    for index in plan.indexes:
        _run(
            f"{_owner(plan, index.table)} (index {index.name})",
            cur,
            sql.SQL("DROP INDEX {}").format(sql.SQL(index.name)),
        )
    if plan.truncate:
        _run("the target tables (truncate)", cur, sql.SQL("TRUNCATE {}").format(_listed(tables)))
    inserted: dict[str, int] = {}
    for ent in entities:
        what = f"entity {ent.name!r}"
        loaded = typed(cur, ent) if typed is not None else None
        if loaded is not None:
            inserted[ent.name] = loaded
            continue
        try:
            copy(cur, ent)
            table, cols, doc = columns(ent)
            # The function in the select list of an OFFSET 0 subquery runs once per row, without the
            # per-row tuplestore a LATERAL function scan builds.
            cur.execute(
                sql.SQL(
                    "INSERT INTO {table} ({cols}) SELECT {fields} FROM "
                    "(SELECT jsonb_populate_record(NULL::{table}, {doc}) AS r FROM drill_stage s OFFSET 0) x"
                ).format(
                    table=table,
                    doc=doc,
                    cols=sql.SQL(", ").join(cols),
                    fields=sql.SQL(", ").join(sql.SQL("(x.r).{}").format(c) for c in cols),
                )
            )
            inserted[ent.name] = max(cur.rowcount, 0)
            cur.execute("TRUNCATE drill_stage")
        except psycopg.Error as exc:
            raise LoadFailed(what, server_error(exc)) from None
    for index in plan.indexes:
        what = f"{_owner(plan, index.table)} (index {index.name})"
        _run(what, cur, sql.SQL(index.definition))
        if index.comment is not None:
            comment = sql.SQL("COMMENT ON INDEX {} IS {}").format(
                sql.SQL(index.name), sql.Literal(index.comment)
            )
            _run(what, cur, comment)
    for fk in plan.foreign_keys:
        what = f"{_owner(plan, fk.table)} (foreign key {fk.name})"
        add = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.SQL(fk.table), sql.Identifier(fk.name), sql.SQL(fk.definition)
        )
        _run(what, cur, add)
        if fk.comment is not None:
            comment = sql.SQL("COMMENT ON CONSTRAINT {} ON {} IS {}").format(
                sql.Identifier(fk.name), sql.SQL(fk.table), sql.Literal(fk.comment)
            )
            _run(what, cur, comment)
    return inserted
