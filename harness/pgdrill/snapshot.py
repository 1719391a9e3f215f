"""Snapshots of a database's state: per-table row counts and content checksums, and the
audit hash chain, taken in one read-only repeatable-read transaction.

Content checksum of a table (order-independent, over all columns, computed in SQL)::

    h(row)   = sha256(convert_to(ROW(t.*)::text, 'UTF8'))   -- the row's record text
    a, b     = h(row) bytes 0..7 and 8..15, each read as a signed 64-bit integer
    checksum = hex(sum(a) mod 2^64) || hex(sum(b) mod 2^64)  -- 32 hex digits

``ROW(t.*)::text`` is PostgreSQL's record output of every column in column order (NULL
is empty, strings are quoted when needed; ``t.*`` rather than a bare ``t``, which a column
named ``t`` would shadow), rendered under fixed settings (``RENDER_SETTINGS``: TimeZone UTC,
DateStyle ISO, IntervalStyle postgres, extra_float_digits 1, bytea_output hex) so it does
not depend on the session. Summing per-row hashes makes the result independent of row
order and physical layout while still counting duplicate rows; it is one streaming
aggregate per table, with no sort and no memory growth.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from harness.clock import utc_iso
from harness.dataset.chain import ChainCheck, ChainSpec, pin_rendering, verify_chain
from harness.errors import VerificationFailed
from harness.pgdrill.canary import CANARY_TABLE
from harness.postgres.database import Database

_LANE = 1 << 64

_TABLES_SQL = """
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = ANY(%s) AND c.relname <> %s
ORDER BY 1
"""

CHECKSUM_SQL = sql.SQL(
    "SELECT count(*)::bigint, "
    "coalesce(sum(('x' || encode(substring(h FROM 1 FOR 8), 'hex'))::bit(64)::bigint), 0), "
    "coalesce(sum(('x' || encode(substring(h FROM 9 FOR 8), 'hex'))::bit(64)::bigint), 0) "
    "FROM (SELECT sha256(convert_to(ROW(t.*)::text, 'UTF8')) AS h FROM {} AS t) AS s"
)


@dataclass(frozen=True)
class TableState:
    rows: int
    checksum: str


@dataclass(frozen=True)
class Snapshot:
    taken_at: str
    tables: dict[str, TableState]
    chain_spec: ChainSpec | None = None
    chain: ChainCheck | None = None
    checksum_seconds: float = 0.0
    chain_seconds: float = 0.0
    table_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        """Rows counted in the chain table (the audit table) — by ``count(*)``, independently of
        the verifier's walk; all rows when there is no chain."""
        if self.chain_spec is not None:
            return self.tables[qualified_name(self.chain_spec.table)].rows
        return sum(t.rows for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        chain = self.chain
        return {
            "taken_at": self.taken_at,
            "row_count": self.row_count,
            "chain_table": self.chain_spec.table if self.chain_spec else None,
            "chain_head_hash": chain.head if chain else None,
            "first_break_id": ("" if chain.first_broken_id is None else str(chain.first_broken_id))
            if chain
            else None,
            "verifier_walked": chain.rows if chain else None,
            "total_rows": sum(t.rows for t in self.tables.values()),
            "tables": {name: {"rows": t.rows, "checksum": t.checksum} for name, t in self.tables.items()},
            "seconds": {"checksums": round(self.checksum_seconds, 3), "chain": round(self.chain_seconds, 3)},
        }


def qualified_name(table: str) -> str:
    """``schema.table`` (an unqualified name is in ``public``), as snapshots key their tables."""
    return table if "." in table else f"public.{table}"


def list_tables(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    """Ordinary tables (partitions included, parents not) in ``schemas``, without the canary table."""
    return [str(r[0]) for r in conn.execute(_TABLES_SQL, (schemas, CANARY_TABLE)).fetchall()]


def table_state(conn: psycopg.Connection[Any], table: str) -> TableState:
    row = conn.execute(CHECKSUM_SQL.format(sql.Identifier(*table.split(".", 1)))).fetchone()
    assert row is not None
    rows, a, b = row
    return TableState(int(rows), f"{int(a) % _LANE:016x}{int(b) % _LANE:016x}")


def take_snapshot(db: Database, schemas: list[str], chain: ChainSpec | None) -> Snapshot:
    """Row counts and checksums of every table in ``schemas``, and the chain (whose table is
    always counted and checksummed, also outside ``schemas``), in one consistent snapshot."""
    with db.connect() as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        pin_rendering(conn)
        taken_at = utc_iso(micro=True)
        check, chain_seconds, names = None, 0.0, list_tables(conn, schemas)
        if chain is not None:  # first: a missing chain table or column is a ConfigError naming it
            started = time.perf_counter()
            check = verify_chain(conn, chain)
            chain_seconds = time.perf_counter() - started
            if qualified_name(chain.table) not in names:
                names.append(qualified_name(chain.table))
        started = time.perf_counter()
        states, seconds = {}, {}
        for name in names:
            clock = time.perf_counter()
            states[name] = table_state(conn, name)
            seconds[name] = time.perf_counter() - clock
        checksum_seconds = time.perf_counter() - started
        conn.rollback()
    return Snapshot(taken_at, states, chain, check, checksum_seconds, chain_seconds, seconds)


@dataclass
class Comparison:
    """Per-table counts and checksums of two snapshots."""

    tables: dict[str, dict[str, Any]]
    missing: list[str]
    unexpected: list[str]

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unexpected and all(t["match"] for t in self.tables.values())

    def problems(self) -> list[str]:
        out = [f"{name}: missing after restore" for name in self.missing]
        out += [f"{name}: not present before" for name in self.unexpected]
        for name, t in self.tables.items():
            if t["pre_rows"] != t["post_rows"]:
                out.append(f"{name}: {t['pre_rows']} rows before, {t['post_rows']} after")
            elif t["pre_checksum"] != t["post_checksum"]:
                out.append(f"{name}: same row count but content checksum differs")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, **asdict(self)}


def compare_tables(pre: Snapshot, post: Snapshot) -> Comparison:
    tables = {}
    for name in sorted(set(pre.tables) & set(post.tables)):
        a, b = pre.tables[name], post.tables[name]
        tables[name] = {
            "pre_rows": a.rows,
            "post_rows": b.rows,
            "pre_checksum": a.checksum,
            "post_checksum": b.checksum,
            "match": a == b,
        }
    return Comparison(
        tables, sorted(set(pre.tables) - set(post.tables)), sorted(set(post.tables) - set(pre.tables))
    )


def require_tables_match(pre: Snapshot, post: Snapshot) -> Comparison:
    comparison = compare_tables(pre, post)
    if not comparison.passed:
        problems = comparison.problems()
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        raise VerificationFailed("; ".join(problems[:5]) + more)
    return comparison
