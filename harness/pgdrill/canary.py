"""Canary tokens: a random value planted before the backup that must come back byte-exact.

The token lives only in memory; evidence and messages carry its length and whether it
matched, never the value (nor a hash of it).
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg import sql

from harness.postgres.database import Database

CANARY_TABLE = "drill_canary"


def new_token() -> str:
    """Random, and awkward on purpose: multibyte UTF-8, a tab, a backslash and quotes."""
    return f"drill-canary {secrets.token_hex(16)} \u00fc\u2713\t\\ '\""


def plant(db: Database, schema: str, token: str) -> None:
    table = sql.Identifier(schema, CANARY_TABLE)
    with db.connect() as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (id int PRIMARY KEY, token text NOT NULL, planted_at timestamptz)"
            ).format(table)
        )
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1, %s, now())").format(table), (token,))
        conn.commit()


def read_planted(db: Database, schema: str) -> bytes | None:
    """The canary's bytes as stored (UTF-8), or None when the table or row is gone."""
    query = sql.SQL("SELECT convert_to(token, 'UTF8') FROM {} WHERE id = 1").format(
        sql.Identifier(schema, CANARY_TABLE)
    )
    return read_value(db, query)


def read_value(db: Database, query: str | sql.Composed) -> bytes | None:
    """First value of a read-only query as bytes (text as UTF-8); None when there is no row or table."""
    with db.connect() as conn:
        conn.execute("BEGIN READ ONLY")
        try:
            row = conn.execute(query.encode() if isinstance(query, str) else query).fetchone()
        except psycopg.errors.UndefinedTable:
            return None
        finally:
            conn.rollback()
    return None if row is None or row[0] is None else as_bytes(row[0])


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def compare(expected: bytes, got: bytes | None) -> tuple[bool, str]:
    """(match, message) without revealing either value."""
    if got is None:
        return False, "the canary did not come back (table or row missing)"
    if got == expected:
        return True, f"canary came back byte-exact ({len(expected)} bytes)"
    first = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), None)
    where = f"first difference at byte {first}" if first is not None else "one is a prefix of the other"
    return False, f"canary differs: {len(got)} bytes back, {len(expected)} planted; {where}"
