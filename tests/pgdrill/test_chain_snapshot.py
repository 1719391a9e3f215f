"""Configurable hash chains and table content checksums, on the session's embedded PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from harness.dataset.chain import (
    CHAIN_HEAD_SQL,
    GENESIS,
    REFERENCE_CHAIN,
    ChainCheck,
    ChainSpec,
    chain_sql,
    column_types,
    explain_break,
    verify_chain,
)
from harness.errors import ConfigError
from harness.pgdrill.snapshot import compare_tables, take_snapshot
from harness.postgres.database import Database, create_database

_names = itertools.count()

LEDGER = ChainSpec(
    table="books.ledger",
    columns=("seq", "amount", "memo", "booked_at", "local_at", "value_date"),
    order_by="seq",
    hash_column="digest",
    prev_hash_column="previous",
    genesis="start",
)


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def ledger(admin: Database) -> Database:
    """A chain in another schema with other names, a timestamp without time zone and NULLs,
    hashed in Python (independently of the SQL verifier)."""
    db = create_database(admin, f"ledger_{next(_names)}")
    with db.connect() as conn:
        conn.execute(
            "CREATE SCHEMA books; CREATE TABLE books.ledger (seq int PRIMARY KEY, amount numeric, memo text, "
            "booked_at timestamptz NOT NULL, local_at timestamp, value_date date, previous text, digest text)"
        )
        conn.execute("SET TIME ZONE 'Europe/Berlin'")  # the chain must not depend on the session zone
        prev = "start"
        for seq in range(1, 8):
            row = conn.execute(
                "SELECT %s::numeric, %s::text, timestamptz '2025-03-01 10:00:00.5+00' "
                "+ %s * interval '1 hour', CASE WHEN %s %% 2 = 0 THEN timestamp '2025-03-01 12:00:00' END, "
                "date '2025-03-01' + %s",
                (f"{seq}.50", None if seq == 3 else f"memo ü {seq}", seq, seq, seq),
            ).fetchone()
            assert row is not None
            amount, memo, booked, local, value_date = row
            text = "|".join(
                [
                    prev,
                    str(seq),
                    str(amount),
                    memo or "",
                    _ts(booked.astimezone(UTC)),
                    _ts(local) if local else "",
                    value_date.isoformat(),
                ]
            )
            digest = hashlib.sha256(text.encode()).hexdigest()
            conn.execute(
                "INSERT INTO books.ledger VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (seq, amount, memo, booked, local, value_date, prev, digest),
            )
            prev = digest
        conn.commit()
    return db


def test_configured_chain_matches_an_independent_python_hash(ledger: Database) -> None:
    with ledger.connect() as conn:
        # The verifier pins its own rendering settings: the session's must not matter.
        conn.execute("SET TIME ZONE 'Asia/Kolkata'; SET DateStyle = 'SQL, DMY'")
        check = verify_chain(conn, LEDGER)
        assert check.ok and check.rows == 7
        assert check.head == conn.execute("SELECT digest FROM books.ledger WHERE seq = 7").fetchone()[0]
        conn.execute("UPDATE books.ledger SET memo = 'x' WHERE seq = 3")  # NULL -> 'x' is a change
        assert verify_chain(conn, LEDGER).first_broken_id == 3
        assert "changed payload" in explain_break(conn, LEDGER, 3)
        conn.rollback()
        conn.execute("DELETE FROM books.ledger")
        assert verify_chain(conn, LEDGER) == ChainCheck(0, "start", None)
        conn.rollback()


def test_generic_sql_for_the_reference_chain_is_the_published_query(template_db: Database) -> None:
    # Timestamps are rendered exactly as the requirement spells it.
    rendered = """to_char("created_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    assert CHAIN_HEAD_SQL.count(rendered) == 1
    assert "coalesce(\"prev_hash\", '') || '|' || coalesce(\"id\"::text, '') || '|'" in CHAIN_HEAD_SQL
    with template_db.connect() as conn:
        generic = chain_sql(REFERENCE_CHAIN, column_types(conn, REFERENCE_CHAIN)).as_string(conn)
        assert generic == CHAIN_HEAD_SQL
        spec = ChainSpec(genesis=GENESIS, columns=REFERENCE_CHAIN.columns)
        assert verify_chain(conn, spec) == verify_chain(conn)


def test_missing_chain_table_or_column_is_named(ledger: Database) -> None:
    with ledger.connect() as conn:
        with pytest.raises(ConfigError, match=r"chain\.table: table 'books\.nope' does not exist"):
            verify_chain(conn, ChainSpec(table="books.nope"))
        with pytest.raises(ConfigError, match=r"chain\.columns: .* no column\(s\) colour"):
            verify_chain(conn, ChainSpec(**{**LEDGER.__dict__, "columns": ("seq", "colour")}))


# --------------------------------------------------------------------------- content checksums


def _python_checksum(conn: psycopg.Connection[Any], table: str) -> str:
    """The documented construction, recomputed in Python from each row's record text."""
    a = b = 0
    for (text,) in conn.execute(f"SELECT ROW(t.*)::text FROM {table} AS t"):
        h = hashlib.sha256(text.encode()).digest()
        a += int.from_bytes(h[:8], "big", signed=True)
        b += int.from_bytes(h[8:16], "big", signed=True)
    return f"{a % 2**64:016x}{b % 2**64:016x}"


def test_checksum_is_order_independent_and_sensitive(admin: Database) -> None:
    db = create_database(admin, f"sums_{next(_names)}")
    with db.connect() as conn:
        conn.execute(
            "CREATE TABLE a (id int, v text, t timestamptz, j jsonb, f float8, b bytea); "
            "CREATE TABLE b (LIKE a)"
        )
        rows = (
            "SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'v' || g END, now(), jsonb_build_object('k', g), "
        )
        rows += "g / 3.0, '\\x00ff'::bytea FROM generate_series(1, 500) g"
        conn.execute(f"INSERT INTO a {rows} ORDER BY g")
        conn.execute(f"INSERT INTO b {rows} ORDER BY g DESC")
        conn.execute("SET TIME ZONE 'Asia/Tokyo'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = 0")
        conn.commit()
    snap = take_snapshot(db, ["public"], None)
    assert snap.tables["public.a"] == snap.tables["public.b"]
    assert snap.tables["public.a"].rows == 500
    with db.connect() as conn:
        assert _python_checksum(conn, "a") == snap.tables["public.a"].checksum
    changes = [
        "UPDATE b SET v = '' WHERE id = 7",  # NULL becomes empty string
        "UPDATE b SET f = f + 1e-12 WHERE id = 10",
        "INSERT INTO b SELECT * FROM b WHERE id = 1",  # a duplicate row
        "UPDATE b SET t = t + interval '1 microsecond' WHERE id = 400",
    ]
    for change in changes:
        with db.connect() as conn:
            conn.execute(change)
            conn.commit()
        after = take_snapshot(db, ["public"], None)
        assert after.tables["public.b"] != snap.tables["public.b"], change
        assert not compare_tables(snap, after).passed
