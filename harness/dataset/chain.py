"""Audit-log hash chain for ``audit_events``.

Each row's ``hash`` is the SHA-256 (lower-case hex) of its canonical text, and its
``prev_hash`` is the previous row's ``hash`` in ``id`` order (``GENESIS`` for the
first row). The canonical text joins, with ``|``::

    prev_hash | id | actor_id ("" when NULL) | action | entity | entity_id | detail | created_at

where ``created_at`` is rendered in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (in SQL:
``to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')``). The same
construction is expressed in SQL (:data:`CHAIN_HEAD_SQL`) so a restored database can be
verified in one streaming pass without pulling the table into Python.

Other tables can form a chain with the same construction: :class:`ChainSpec` names the
table, the payload columns, the order column and the hash columns, and
``verify_chain(conn, spec)`` checks it (the reference chain is the default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from harness.errors import ConfigError

GENESIS = "0" * 64
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_created_at(created_at: datetime) -> str:
    """``created_at`` in UTC as used by the chain. A naive datetime is taken to be UTC already."""
    if created_at.tzinfo is not None:
        created_at = created_at.astimezone(UTC)
    return created_at.strftime(TIMESTAMP_FORMAT)


def canonical_text(
    prev_hash: str,
    id: int,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: str,
    detail: str,
    created_at: str,
) -> str:
    """Canonical text with ``created_at`` already formatted (see :func:`format_created_at`)."""
    actor = "" if actor_id is None else str(actor_id)
    return "|".join([prev_hash, str(id), actor, action, entity, entity_id, detail, created_at])


def canonical(
    prev_hash: str,
    id: int,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: str,
    detail: str,
    created_at: datetime,
) -> str:
    """The text a row's hash covers."""
    return canonical_text(
        prev_hash, id, actor_id, action, entity, entity_id, detail, format_created_at(created_at)
    )


def link_hash(
    prev_hash: str,
    id: int,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: str,
    detail: str,
    created_at: datetime,
) -> str:
    """SHA-256 hex of :func:`canonical` — the value stored in ``audit_events.hash``."""
    text = canonical(prev_hash, id, actor_id, action, entity, entity_id, detail, created_at)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainSpec:
    """Which table and columns form a hash chain (the reference ``audit_events`` by default).

    A row's canonical text is ``prev_hash`` followed by ``columns`` in the given order, joined
    with ``|``; NULL renders as ``""``, ``timestamptz`` (and ``timestamp``, taken as UTC) as
    ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC, everything else by its PostgreSQL text output under
    :data:`RENDER_SETTINGS` (so dates, intervals, floats and bytea do not depend on the session).
    ``hash`` is the lower-case hex SHA-256 of that text's UTF-8 bytes; rows are chained in
    ``order_by`` order and the first row's ``prev_hash`` is ``genesis``.
    """

    table: str = "audit_events"
    columns: tuple[str, ...] = ("id", "actor_id", "action", "entity", "entity_id", "detail", "created_at")
    order_by: str = "id"
    hash_column: str = "hash"
    prev_hash_column: str = "prev_hash"
    genesis: str = GENESIS

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ChainSpec:
        """Build from scenario options (keys as the fields; ``columns`` a list); defaults fill gaps."""
        values = {k: v for k, v in options.items() if k in cls.__dataclass_fields__}
        if "columns" in values:
            values["columns"] = tuple(values["columns"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "columns": list(self.columns),
            "order_by": self.order_by,
            "hash_column": self.hash_column,
            "prev_hash_column": self.prev_hash_column,
            "genesis": self.genesis,
        }


REFERENCE_CHAIN = ChainSpec()
#: Session settings under which values are rendered as text (chain payloads, table checksums).
RENDER_SETTINGS = (
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO, YMD"),
    ("IntervalStyle", "postgres"),
    ("extra_float_digits", "1"),
    ("bytea_output", "hex"),
)
_PIN_SQL = "SELECT " + ", ".join(f"set_config('{k}', '{v}', true)" for k, v in RENDER_SETTINGS)
_REFERENCE_TYPES = {"created_at": "timestamp with time zone"}
_TS_FORMAT = sql.Literal('YYYY-MM-DD"T"HH24:MI:SS.US"Z"')


def _table(name: str) -> sql.Identifier:
    return sql.Identifier(*name.split(".", 1))


def _rendered(column: str, type_name: str) -> sql.Composable:
    col = sql.Identifier(column)
    if type_name == "timestamp with time zone":
        text = sql.SQL("to_char({} AT TIME ZONE 'UTC', {})").format(col, _TS_FORMAT)
    elif type_name == "timestamp without time zone":
        text = sql.SQL("to_char({}, {})").format(col, _TS_FORMAT)
    else:
        text = sql.SQL("{}::text").format(col)
    return sql.SQL("coalesce({}, '')").format(text)


def _checked_cte(spec: ChainSpec, types: Mapping[str, str]) -> sql.Composed:
    """``checked(key, prev_key, bad_link, bad_hash)``: one row per chain row, in one window scan."""
    order, hash_col, prev_col = (
        sql.Identifier(c) for c in (spec.order_by, spec.hash_column, spec.prev_hash_column)
    )
    parts: list[sql.Composable] = [sql.SQL("coalesce({}, '')").format(prev_col)]
    parts += [_rendered(c, types.get(c, "")) for c in spec.columns]
    canonical_sql = sql.SQL(" || '|' || ").join(parts)
    return sql.SQL(
        "WITH checked AS (\n"
        "    SELECT {order} AS key, lag({order}) OVER w AS prev_key,\n"
        "        {prev} IS DISTINCT FROM coalesce(lag({hash}) OVER w, {genesis}) AS bad_link,\n"
        "        {hash} IS DISTINCT FROM encode(sha256(convert_to({canonical}, 'UTF8')), 'hex') AS bad_hash\n"
        "    FROM {table} WINDOW w AS (ORDER BY {order})\n"
        ")\n"
    ).format(
        order=order,
        prev=prev_col,
        hash=hash_col,
        genesis=sql.Literal(spec.genesis),
        canonical=canonical_sql,
        table=_table(spec.table),
    )


def chain_sql(spec: ChainSpec, types: Mapping[str, str]) -> sql.Composed:
    """The verifier query for ``spec``; ``types`` maps column names to ``format_type`` names."""
    return _checked_cte(spec, types) + sql.SQL(
        "SELECT count(*)::bigint AS rows,\n"
        "    coalesce((SELECT {hash} FROM {table} ORDER BY {order} DESC LIMIT 1), {genesis}) AS head_hash,\n"
        "    min(key) FILTER (WHERE bad_link OR bad_hash) AS first_broken_id\n"
        "FROM checked\n"
    ).format(
        hash=sql.Identifier(spec.hash_column),
        table=_table(spec.table),
        order=sql.Identifier(spec.order_by),
        genesis=sql.Literal(spec.genesis),
    )


# One pass over audit_events in id order. A row is broken when its stored hash is not the
# SHA-256 of its canonical text, or its stored prev_hash is not the previous row's stored
# hash (GENESIS for the first row). Hashing each row against its *stored* prev_hash keeps
# the query a plain window scan (no recursion) and pins the first broken row exactly.
CHAIN_HEAD_SQL = chain_sql(REFERENCE_CHAIN, _REFERENCE_TYPES).as_string(None)


def column_types(conn: psycopg.Connection[Any], spec: ChainSpec) -> dict[str, str]:
    """Column types of the chain table; ConfigError naming the table or column if absent."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (_table(spec.table).as_string(conn),),
    ).fetchall()
    if not rows:
        raise ConfigError(f"chain.table: table {spec.table!r} does not exist")
    types = {str(name): str(type_name) for name, type_name in rows}
    needed = (*spec.columns, spec.order_by, spec.hash_column, spec.prev_hash_column)
    missing = [c for c in dict.fromkeys(needed) if c not in types]
    if missing:
        raise ConfigError(f"chain.columns: table {spec.table!r} has no column(s) {', '.join(missing)}")
    return types


@dataclass(frozen=True)
class ChainCheck:
    """Result of :func:`verify_chain`. ``head`` is the stored hash of the last row (GENESIS if empty)."""

    rows: int
    head: str
    first_broken_id: int | str | None

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def pin_rendering(conn: psycopg.Connection[Any]) -> None:
    """Apply :data:`RENDER_SETTINGS` for the rest of the current transaction (``SET LOCAL``)."""
    conn.execute(_PIN_SQL)


def verify_chain(conn: psycopg.Connection[Any], spec: ChainSpec = REFERENCE_CHAIN) -> ChainCheck:
    """Recompute the chain inside PostgreSQL (one streaming scan) and report the first broken row.

    Runs in a transaction (a savepoint inside the caller's) with :data:`RENDER_SETTINGS`."""
    with conn.transaction():
        pin_rendering(conn)
        query = CHAIN_HEAD_SQL if spec == REFERENCE_CHAIN else chain_sql(spec, column_types(conn, spec))
        row = conn.execute(query).fetchone()
    if row is None:  # pragma: no cover - an aggregate always returns one row
        return ChainCheck(0, spec.genesis, None)
    rows, head, broken = row
    if broken is not None and not isinstance(broken, int):
        broken = str(broken)
    return ChainCheck(int(rows), str(head), broken)


def explain_break(conn: psycopg.Connection[Any], spec: ChainSpec, broken_id: int | str) -> str:
    """Why the row at ``broken_id`` breaks the chain, in words (one more scan; only on failure)."""
    with conn.transaction():
        pin_rendering(conn)
        query = _checked_cte(spec, column_types(conn, spec)) + sql.SQL(
            "SELECT prev_key, bad_link, bad_hash FROM checked WHERE key::text = %s"
        )
        row = conn.execute(query, (str(broken_id),)).fetchone()
    if row is None:
        return f"{spec.table} row {spec.order_by}={broken_id} no longer exists"
    prev_key, bad_link, bad_hash = row
    reasons = []
    if bad_hash:
        reasons.append(f"its stored {spec.hash_column} does not match its content (changed payload)")
    if bad_link and prev_key is None:
        reasons.append(f"it is first in {spec.order_by} order but its {spec.prev_hash_column} is not genesis")
    elif bad_link:
        reasons.append(
            f"its {spec.prev_hash_column} is not the hash of the preceding row {spec.order_by}={prev_key} "
            "(a row is missing or out of order before it)"
        )
    return f"{spec.table} row {spec.order_by}={broken_id}: " + "; and ".join(reasons)
