"""Deterministic, seeded generator for the reference dataset (``schema.sql``).

``seed_dataset(db, total_rows, seed=...)`` creates the schema and fills all eleven tables
with COPY in one transaction. The same ``(seed, total_rows)`` always produces
byte-identical table contents: every table draws from its own ``random.Random(f"{seed}:{table}")``,
timestamps are offsets from a fixed epoch (2025-01-01T00:00:00Z, microsecond precision,
UTC), and file uuids are a seeded bijection of the file number (see :func:`file_uuid`),
never the clock or ``uuid4``.

Rows are streamed in chunks: nothing per row is kept, so memory stays flat from 100 to
10M rows (about 55 MB peak RSS at 10M). Foreign keys are valid by construction and are
re-validated by PostgreSQL when they are re-added after the load. Row ``i`` of every
table is created at ``i * span / n`` plus jitter, so ``created_at`` rises with ``id``; a
child row only references parent ids up to the proportional position of its own id,
which keeps parents (nearly always) older than their children. Values in exported
columns are deliberately plain (dictionary words, ``sha256:`` checksums, ``s3://`` URIs)
so a secret scanner has nothing to find; only the columns the contract redacts or omits
(password hashes, tokens, API keys, presigned URLs, thumbnails, sessions) carry
credential-shaped values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources

from harness.dataset.plan import Plan
from harness.dataset.rows_activity import (
    artifacts_rows,
    assistant_jobs_rows,
    audit_events_rows,
    files_rows,
    notifications_rows,
)
from harness.dataset.rows_work import (
    cards_rows,
    recurring_configs_rows,
    sessions_rows,
    tasks_rows,
    templates_rows,
    users_rows,
)
from harness.errors import ConfigError
from harness.postgres.database import Database

# (table, percent of total_rows, minimum) in foreign-key-safe load order. audit_events
# also receives the rounding remainder so the counts always sum to total_rows.
_SHARES: tuple[tuple[str, int, int], ...] = (
    ("users", 2, 3),
    ("sessions", 1, 0),
    ("templates", 1, 1),
    ("tasks", 18, 1),
    ("cards", 15, 0),
    ("recurring_configs", 1, 0),
    ("files", 10, 0),
    ("notifications", 22, 0),
    ("assistant_jobs", 5, 0),
    ("artifacts", 5, 0),
    ("audit_events", 20, 0),
)
TABLES: tuple[str, ...] = tuple(name for name, _, _ in _SHARES)
MIN_TOTAL_ROWS = 10

COLUMNS: dict[str, tuple[str, ...]] = {
    "users": (
        "id",
        "email",
        "display_name",
        "role",
        "status",
        "locale",
        "password_hash",
        "session_token",
        "api_key",
        "created_at",
        "updated_at",
        "last_login_at",
    ),
    "sessions": ("id", "user_id", "token", "user_agent", "created_at", "expires_at"),
    "templates": ("id", "owner_id", "name", "body", "is_shared", "created_at", "updated_at"),
    "tasks": (
        "id",
        "owner_id",
        "assignee_id",
        "template_id",
        "title",
        "status",
        "priority",
        "tags",
        "due_at",
        "created_at",
        "updated_at",
    ),
    "cards": ("id", "task_id", "owner_id", "title", "body", "lane", "position", "created_at", "updated_at"),
    "recurring_configs": (
        "id",
        "template_id",
        "owner_id",
        "cron",
        "timezone",
        "enabled",
        "next_run_at",
        "created_at",
    ),
    "files": (
        "id",
        "owner_id",
        "task_id",
        "card_id",
        "filename",
        "content_type",
        "storage_uri",
        "checksum",
        "size_bytes",
        "download_url",
        "thumbnail",
        "created_at",
    ),
    "notifications": ("id", "user_id", "task_id", "kind", "payload", "read_at", "created_at"),
    "assistant_jobs": (
        "id",
        "user_id",
        "task_id",
        "input_file_ids",
        "retry_of",
        "status",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "created_at",
        "finished_at",
    ),
    "artifacts": ("id", "job_id", "task_id", "kind", "storage_uri", "checksum", "size_bytes", "created_at"),
    "audit_events": (
        "id",
        "actor_id",
        "action",
        "entity",
        "entity_id",
        "detail",
        "created_at",
        "prev_hash",
        "hash",
    ),
}


def plan_counts(total_rows: int) -> dict[str, int]:
    """Rows per table (in load order) for ``total_rows``; the values sum to ``total_rows`` exactly."""
    if isinstance(total_rows, bool) or not isinstance(total_rows, int) or total_rows < MIN_TOTAL_ROWS:
        raise ConfigError(f"dataset rows must be an integer >= {MIN_TOTAL_ROWS}, got {total_rows!r}")
    counts = {name: max(minimum, total_rows * pct // 100) for name, pct, minimum in _SHARES[:-1]}
    counts["audit_events"] = total_rows - sum(counts.values())
    return counts


_GENERATORS: dict[str, Callable[[Plan], Iterator[str]]] = {
    "users": users_rows,
    "sessions": sessions_rows,
    "templates": templates_rows,
    "tasks": tasks_rows,
    "cards": cards_rows,
    "recurring_configs": recurring_configs_rows,
    "files": files_rows,
    "notifications": notifications_rows,
    "assistant_jobs": assistant_jobs_rows,
    "artifacts": artifacts_rows,
    "audit_events": audit_events_rows,
}


def copy_chunks(table: str, total_rows: int, *, seed: int = 42) -> Iterator[str]:
    """COPY text-format data for one table, in chunks of up to CHUNK_ROWS lines."""
    if table not in _GENERATORS:
        raise ConfigError(f"unknown dataset table {table!r}; expected one of {', '.join(TABLES)}")
    return _GENERATORS[table](Plan(seed, plan_counts(total_rows)))


def schema_sql() -> str:
    """The bundled reference schema."""
    return resources.files("harness.dataset").joinpath("schema.sql").read_text(encoding="utf-8")


_FOREIGN_KEYS_SQL = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype = 'f' AND c.conrelid = ANY (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)
ORDER BY 1, 2
"""
# Plain indexes (not backing a primary key or unique constraint).
_INDEXES_SQL = """
SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY (SELECT to_regclass(t) FROM unnest(%s::text[]) AS t)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY 1
"""


def seed_dataset(
    db: Database, total_rows: int, *, seed: int = 42, create_schema: bool = True
) -> dict[str, int]:
    """Create the reference schema (unless ``create_schema=False``) and fill it; return rows per table.

    Everything happens in one transaction. Foreign keys and plain indexes are dropped for
    the load and re-created from their catalog definitions (same names) before commit:
    PostgreSQL then checks each foreign key in one set-based pass instead of one trigger
    query per row, which makes the load about twice as fast. Primary keys and unique
    constraints stay in place throughout. ANALYZE runs last. With ``create_schema=False``
    the tables must already exist and be empty.
    """
    counts = plan_counts(total_rows)
    plan = Plan(seed, counts)
    tables = list(TABLES)
    with db.connect() as conn:
        with conn.cursor() as cur:
            if create_schema:
                cur.execute(schema_sql().encode("utf-8"))
            foreign_keys = cur.execute(_FOREIGN_KEYS_SQL, (tables,)).fetchall()
            for table, name, _definition in foreign_keys:
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            indexes = cur.execute(_INDEXES_SQL, (tables,)).fetchall()
            for index, _definition in indexes:
                cur.execute(f"DROP INDEX {index}")
            # FREEZE is allowed (and saves a later VACUUM) when the tables were created in this transaction.
            options = " WITH (FREEZE)" if create_schema else ""
            for table in TABLES:
                if not counts[table]:
                    continue
                columns = ", ".join(COLUMNS[table])
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN{options}") as copy:
                    for chunk in _GENERATORS[table](plan):
                        copy.write(chunk)
            for _index, definition in indexes:
                cur.execute(definition)
            for table, name, definition in foreign_keys:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            cur.execute("ANALYZE " + ", ".join(TABLES))
        conn.commit()
    return counts
