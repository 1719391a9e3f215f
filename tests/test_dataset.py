"""Reference dataset generator and audit hash chain, against the session's embedded PostgreSQL.

Row counts: every table has at least one row from 100 total rows up. Below 100, the 1%
tables (sessions, recurring_configs) can be empty, and so can assistant_jobs/artifacts
below 20; users (3) and templates and tasks (1 each) always have rows.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from harness.dataset.chain import GENESIS, ChainCheck, canonical, link_hash, verify_chain
from harness.dataset.generator import (
    MIN_TOTAL_ROWS,
    TABLES,
    copy_chunks,
    plan_counts,
    schema_sql,
    seed_dataset,
)
from harness.dataset.plan import file_uuid
from harness.dataset.words import CARD_LINES
from harness.errors import ConfigError
from harness.postgres.database import Database, create_database
from harness.postgres.embedded import embedded_postgres

SMALL = 100
MEDIUM = 10_000

# Columns the reference contract exports (everything except the redacted ones and sessions).
EXPORTED_TEXT = {
    "users": ["email", "display_name", "role", "status", "locale"],
    "templates": ["name", "body::text"],
    "tasks": ["title", "status", "tags::text"],
    "cards": ["title", "body", "lane"],
    "recurring_configs": ["cron", "timezone"],
    "files": ["filename", "content_type", "storage_uri"],
    "notifications": ["kind", "payload::text"],
    "assistant_jobs": ["status", "model"],
    "artifacts": ["kind", "storage_uri"],
    "audit_events": ["action", "entity", "entity_id", "detail"],
}
NULLABLE_REFS = [
    ("tasks", "assignee_id"),
    ("tasks", "template_id"),
    ("cards", "task_id"),
    ("files", "task_id"),
    ("files", "card_id"),
    ("notifications", "task_id"),
    ("assistant_jobs", "task_id"),
    ("assistant_jobs", "retry_of"),
    ("artifacts", "job_id"),
    ("artifacts", "task_id"),
    ("audit_events", "actor_id"),
]


@pytest.fixture(scope="module")
def dataset_admin() -> Iterator[Database]:
    """A private embedded cluster for this module (keeps these tests independent of conftest's)."""
    with embedded_postgres() as cluster:
        yield cluster.database()


@pytest.fixture(scope="module")
def seeded(dataset_admin: Database) -> Iterator[dict[str, Database]]:
    """Databases seeded once for the module: sizes, a same-seed twin and a different seed."""
    specs = {
        "small": (SMALL, 42),
        "medium": (MEDIUM, 42),
        "medium_twin": (MEDIUM, 42),
        "medium_other": (MEDIUM, 7),
        "minimal": (MIN_TOTAL_ROWS, 42),
    }
    dbs: dict[str, Database] = {}
    for key, (rows, seed) in specs.items():
        db = create_database(dataset_admin, f"dataset_{key}")
        assert seed_dataset(db, rows, seed=seed) == plan_counts(rows)
        dbs[key] = db
    yield dbs
    with dataset_admin.connect(autocommit=True) as conn:
        for db in dbs.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{db.dbname}" WITH (FORCE)')


def scalar(conn: psycopg.Connection[Any], sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def table_counts(db: Database) -> dict[str, int]:
    with db.connect() as conn:
        return {t: scalar(conn, f"SELECT count(*) FROM {t}") for t in TABLES}


def table_digests(db: Database) -> dict[str, str]:
    with db.connect() as conn:
        return {
            t: scalar(conn, f"SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM {t} t") for t in TABLES
        }


# --------------------------------------------------------------------------- plan


@pytest.mark.parametrize("total", [10, 11, 57, 99, 100, 101, 3_000, 10_000, 123_457, 1_000_000, 10_000_000])
def test_plan_counts_sum_exactly(total: int) -> None:
    counts = plan_counts(total)
    assert tuple(counts) == TABLES
    assert sum(counts.values()) == total
    assert all(n >= 0 for n in counts.values())
    assert counts["users"] >= 3 and counts["templates"] >= 1 and counts["tasks"] >= 1


def test_plan_counts_follow_ratios() -> None:
    counts = plan_counts(1_000_000)
    assert counts == {
        "users": 20_000,
        "sessions": 10_000,
        "templates": 10_000,
        "tasks": 180_000,
        "cards": 150_000,
        "recurring_configs": 10_000,
        "files": 100_000,
        "notifications": 220_000,
        "assistant_jobs": 50_000,
        "artifacts": 50_000,
        "audit_events": 200_000,
    }
    # The rounding remainder goes to audit_events.
    assert plan_counts(199)["audit_events"] == 199 - sum(
        v for k, v in plan_counts(199).items() if k != "audit_events"
    )
    assert plan_counts(99)["sessions"] == 0  # documented: 1% tables may be empty below 100 rows


@pytest.mark.parametrize("bad", [0, 9, -5, 10.0, True, "100"])
def test_plan_counts_rejects_bad_sizes(bad: Any) -> None:
    with pytest.raises(ConfigError, match="dataset rows"):
        plan_counts(bad)


def test_copy_chunks_are_deterministic_and_seed_dependent() -> None:
    first = "".join(copy_chunks("files", 5_000, seed=42))
    assert first == "".join(copy_chunks("files", 5_000, seed=42))
    assert first != "".join(copy_chunks("files", 5_000, seed=43))
    with pytest.raises(ConfigError):
        list(copy_chunks("nope", 100))


def test_file_uuids_are_unique_v4_and_seeded() -> None:
    ids = [file_uuid(42, i) for i in range(1, 50_001)]
    assert len(set(ids)) == len(ids)
    for text in ids[:1000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
    assert file_uuid(42, 1) != file_uuid(43, 1)


# --------------------------------------------------------------------------- counts and determinism


@pytest.mark.parametrize(
    ("key", "total"), [("small", SMALL), ("medium", MEDIUM), ("minimal", MIN_TOTAL_ROWS)]
)
def test_counts_match_plan(seeded: dict[str, Database], key: str, total: int) -> None:
    counts = table_counts(seeded[key])
    assert counts == plan_counts(total)
    assert sum(counts.values()) == total


def test_every_table_has_rows_at_100(seeded: dict[str, Database]) -> None:
    counts = table_counts(seeded["small"])
    assert all(n >= 1 for n in counts.values()), counts


def test_same_seed_is_byte_identical_other_seed_differs(seeded: dict[str, Database]) -> None:
    first = table_digests(seeded["medium"])
    assert first == table_digests(seeded["medium_twin"])
    other = table_digests(seeded["medium_other"])
    assert all(first[t] != other[t] for t in TABLES), [t for t in TABLES if first[t] == other[t]]


def test_create_schema_false_loads_into_existing_schema(dataset_admin: Database) -> None:
    db = create_database(dataset_admin, "dataset_existing")
    try:
        with db.connect() as conn:
            conn.execute(schema_sql().encode())
            conn.commit()
        assert seed_dataset(db, 500, seed=3, create_schema=False) == plan_counts(500)
        fresh = create_database(dataset_admin, "dataset_fresh")
        seed_dataset(fresh, 500, seed=3)
        assert table_digests(db) == table_digests(fresh)
    finally:
        with dataset_admin.connect(autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "dataset_existing" WITH (FORCE)')
            conn.execute('DROP DATABASE IF EXISTS "dataset_fresh" WITH (FORCE)')


# --------------------------------------------------------------------------- relationships


CATALOG_SQL = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT tablename, indexname, indexdef, true FROM pg_indexes WHERE schemaname = 'public'
ORDER BY 1, 2, 3
"""


def test_schema_constraints_and_indexes_are_restored(
    seeded: dict[str, Database], dataset_admin: Database
) -> None:
    """FKs and indexes are dropped for the load; afterwards the catalog must equal schema.sql's."""
    reference = create_database(dataset_admin, "dataset_schema_only")
    try:
        with reference.connect() as conn:
            conn.execute(schema_sql().encode())
            conn.commit()
            expected = conn.execute(CATALOG_SQL).fetchall()
        with seeded["medium"].connect() as conn:
            actual = conn.execute(CATALOG_SQL).fetchall()
    finally:
        with dataset_admin.connect(autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "dataset_schema_only" WITH (FORCE)')
    assert actual == expected
    assert sum(1 for _, _, definition, _ in actual if definition.startswith("FOREIGN KEY")) == 20


def test_references_are_valid(seeded: dict[str, Database]) -> None:
    with seeded["medium"].connect() as conn:
        # Foreign keys are enforced (and were validated when re-added); the array has no FK.
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM assistant_jobs j, unnest(j.input_file_ids) AS f(id) "
                "WHERE NOT EXISTS (SELECT 1 FROM files WHERE files.id = f.id)",
            )
            == 0
        )
        lengths = conn.execute(
            "SELECT DISTINCT cardinality(input_file_ids) FROM assistant_jobs ORDER BY 1"
        ).fetchall()
        assert [n for (n,) in lengths] == [0, 1, 2, 3]
        assert scalar(conn, "SELECT count(*) FROM assistant_jobs WHERE retry_of >= id") == 0
        for table, column in NULLABLE_REFS:
            nulls, set_ = conn.execute(
                f"SELECT count(*) FILTER (WHERE {column} IS NULL), count({column}) FROM {table}"
            ).fetchone() or (0, 0)
            assert nulls > 0 and set_ > 0, (table, column, nulls, set_)
        # Audit entity ids point at generated rows.
        for entity in ("users", "tasks", "cards", "templates", "assistant_jobs", "files"):
            key = "id::text"
            missing = scalar(
                conn,
                f"SELECT count(*) FROM audit_events a WHERE a.entity = '{entity}' "
                f"AND NOT EXISTS (SELECT 1 FROM {entity} e WHERE e.{key} = a.entity_id)",
            )
            assert missing == 0, entity
        # Children are (nearly) never older than the rows they reference.
        late = scalar(
            conn,
            "SELECT count(*) FROM tasks t JOIN users u ON u.id = t.owner_id "
            "WHERE u.created_at > t.created_at + interval '3 days'",
        )
        assert late == 0


def test_values_look_real_but_exports_look_clean(seeded: dict[str, Database]) -> None:
    with seeded["medium"].connect() as conn:
        users = conn.execute("SELECT password_hash, api_key, session_token FROM users").fetchall()
        hashes = [p for p, _, _ in users if p is not None]
        assert hashes and all(re.fullmatch(r"\$2b\$12\$[./A-Za-z0-9]{53}", p) for p in hashes)
        keys = [k for _, k, _ in users if k is not None]
        assert keys and all(re.fullmatch(r"dk_live_[0-9A-Za-z]{32}", k) for k in keys)
        assert any(s is not None for _, _, s in users)
        urls = [u for (u,) in conn.execute("SELECT download_url FROM files WHERE download_url IS NOT NULL")]
        assert urls and all(
            re.fullmatch(
                r"https://files\.example\.test/\S+\?X-Amz-Algorithm=AWS4-HMAC-SHA256&\S+"
                r"&X-Amz-Signature=[0-9a-f]{64}",
                u,
            )
            for u in urls
        )
        thumbs = [
            bytes(t) for (t,) in conn.execute("SELECT thumbnail FROM files WHERE thumbnail IS NOT NULL")
        ]
        assert thumbs and all(t.startswith(b"\x89PNG\r\n\x1a\n") and len(t) >= 16 for t in thumbs)
        for table in ("files", "artifacts"):
            for checksum, uri in conn.execute(f"SELECT checksum, storage_uri FROM {table}"):
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", checksum)
                assert re.fullmatch(r"s3://drill-app-(files|artifacts)/\S+", uri)
        token = re.compile(r"[A-Za-z0-9_+/=-]{20,}")
        for table, columns in EXPORTED_TEXT.items():
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                for value in row:
                    for match in token.findall(value):
                        # uuids and hex digests are lower-case; credentials mix cases and digits.
                        mixed = re.search(r"[a-z]", match) and re.search(r"[A-Z]", match)
                        assert not (mixed and re.search(r"\d", match)), (table, value)
                    assert "eyJ" not in value and "X-Amz-" not in value and "$2b$" not in value


def test_copy_escaping_round_trips(seeded: dict[str, Database]) -> None:
    with seeded["medium"].connect() as conn:
        bodies = {b for (b,) in conn.execute("SELECT DISTINCT body FROM cards")}
    for special in ("\t", "\\", "\n", '"', "é", "✅"):
        assert any(special in body for body in bodies), repr(special)
    assert {line for line in CARD_LINES if line in bodies} == set(CARD_LINES)


def test_timestamps_are_utc_microsecond_and_ordered(seeded: dict[str, Database]) -> None:
    with seeded["medium"].connect() as conn:
        unordered = scalar(
            conn,
            "SELECT count(*) FROM (SELECT created_at <= lag(created_at) OVER (ORDER BY id) AS bad "
            "FROM audit_events) s WHERE bad",
        )
        assert unordered == 0
        first, last = conn.execute("SELECT min(created_at), max(created_at) FROM tasks").fetchone() or (
            None,
            None,
        )
        assert first is not None and last is not None
        assert datetime(2025, 1, 1, tzinfo=UTC) <= first < last < datetime(2026, 1, 1, tzinfo=UTC)
        assert (
            scalar(
                conn, "SELECT count(*) FROM tasks WHERE extract(microseconds FROM created_at) % 1000000 <> 0"
            )
            > 0
        )
        assert (
            scalar(conn, "SELECT count(*) FROM tasks WHERE updated_at < created_at OR due_at <= created_at")
            == 0
        )
        assert scalar(conn, "SELECT count(*) FROM assistant_jobs WHERE finished_at <= created_at") == 0


# --------------------------------------------------------------------------- audit chain


def python_head(conn: psycopg.Connection[Any]) -> tuple[int, str]:
    """Recompute the chain from GENESIS in Python, streaming rows through a server-side cursor."""
    prev, rows = GENESIS, 0
    with conn.cursor(name="chain_rows") as cur:
        cur.execute(
            "SELECT id, actor_id, action, entity, entity_id, detail, created_at, prev_hash, hash "
            "FROM audit_events ORDER BY id"
        )
        for id_, actor, action, entity, entity_id, detail, created_at, prev_hash, stored in cur:
            assert prev_hash == prev, id_
            prev = link_hash(prev, id_, actor, action, entity, entity_id, detail, created_at)
            assert prev == stored, id_
            rows += 1
    return rows, prev


@pytest.mark.parametrize("key", ["small", "medium", "minimal"])
def test_chain_verifies_in_sql_and_python(seeded: dict[str, Database], key: str) -> None:
    with seeded[key].connect() as conn:
        check = verify_chain(conn)
        assert check.ok and check.first_broken_id is None
        assert (
            check.rows
            == plan_counts({"small": SMALL, "medium": MEDIUM, "minimal": MIN_TOTAL_ROWS}[key])["audit_events"]
        )
        assert python_head(conn) == (check.rows, check.head)
        assert check.head == scalar(conn, "SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1")


def test_tampered_detail_is_reported(seeded: dict[str, Database]) -> None:
    with seeded["medium"].connect() as conn:
        before = verify_chain(conn)
        conn.execute("UPDATE audit_events SET detail = detail || ' (edited)' WHERE id = 777")
        after = verify_chain(conn)
        conn.rollback()
        assert after == ChainCheck(before.rows, before.head, 777)
        assert not after.ok
        # Re-hashing the edited row hides the edit from its own hash but breaks the next link.
        conn.execute(
            "UPDATE audit_events SET detail = 'x', hash = encode(sha256(convert_to(prev_hash || '|' || id "
            "|| '|' || coalesce(actor_id::text, '') || '|' || action || '|' || entity || '|' || entity_id "
            "|| '|x|' || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
            "'UTF8')), 'hex') WHERE id = 900"
        )
        assert verify_chain(conn).first_broken_id == 901
        conn.rollback()
        conn.execute("DELETE FROM audit_events WHERE id = 1500")
        assert verify_chain(conn).first_broken_id == 1501
        conn.rollback()
        conn.execute("UPDATE audit_events SET prev_hash = hash WHERE id = 1")
        assert verify_chain(conn).first_broken_id == 1
        conn.rollback()
        assert verify_chain(conn) == before


def test_empty_chain(seeded: dict[str, Database]) -> None:
    with seeded["small"].connect() as conn:
        conn.execute("DELETE FROM audit_events")
        assert verify_chain(conn) == ChainCheck(0, GENESIS, None)
        conn.rollback()


def test_canonical_text_format() -> None:
    when = datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
    text = canonical(GENESIS, 12, None, "login", "users", "3", "signed in", when)
    assert text == f"{GENESIS}|12||login|users|3|signed in|2025-03-04T05:06:07.000089Z"
    # Other zones are converted to UTC; naive datetimes are taken as UTC.
    plus_two = when.astimezone(timezone(timedelta(hours=2)))
    assert canonical(GENESIS, 12, 4, "a", "b", "c", "d", plus_two).endswith(
        "|4|a|b|c|d|2025-03-04T05:06:07.000089Z"
    )
    naive = when.replace(tzinfo=None)
    assert link_hash(GENESIS, 12, None, "login", "users", "3", "signed in", naive) == link_hash(
        GENESIS, 12, None, "login", "users", "3", "signed in", when
    )
