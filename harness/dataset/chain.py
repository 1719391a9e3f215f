"""Audit-log hash chain for ``audit_events``.

Each row's ``hash`` is the SHA-256 (lower-case hex) of its canonical text, and its
``prev_hash`` is the previous row's ``hash`` in ``id`` order (``GENESIS`` for the
first row). The canonical text joins, with ``|``::

    prev_hash | id | actor_id ("" when NULL) | action | entity | entity_id | detail | created_at

where ``created_at`` is rendered in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. The same
construction is expressed in SQL (:data:`CHAIN_HEAD_SQL`) so a restored database can be
verified in one streaming pass without pulling the table into Python.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

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


# One pass over audit_events in id order. A row is broken when its stored hash is not the
# SHA-256 of its canonical text, or its stored prev_hash is not the previous row's stored
# hash (GENESIS for the first row). Hashing each row against its *stored* prev_hash keeps
# the query a plain window scan (no recursion) and pins the first broken row exactly.
CHAIN_HEAD_SQL = f"""
WITH checked AS (
    SELECT
        id,
        prev_hash IS DISTINCT FROM coalesce(lag(hash) OVER (ORDER BY id), '{GENESIS}') AS bad_link,
        hash IS DISTINCT FROM encode(sha256(convert_to(
            prev_hash || '|' || id::text || '|' || coalesce(actor_id::text, '') || '|'
            || action || '|' || entity || '|' || entity_id || '|' || detail || '|'
            || to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'UTF8')), 'hex') AS bad_hash
    FROM audit_events
)
SELECT
    count(*)::bigint AS rows,
    coalesce((SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1), '{GENESIS}') AS head_hash,
    min(id) FILTER (WHERE bad_link OR bad_hash) AS first_broken_id
FROM checked
"""


@dataclass(frozen=True)
class ChainCheck:
    """Result of :func:`verify_chain`. ``head`` is the stored hash of the last row (GENESIS if empty)."""

    rows: int
    head: str
    first_broken_id: int | None

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def verify_chain(conn: psycopg.Connection[Any]) -> ChainCheck:
    """Recompute the chain inside PostgreSQL (one streaming scan) and report the first broken row."""
    with conn.cursor() as cur:
        cur.execute(CHAIN_HEAD_SQL)
        row = cur.fetchone()
    if row is None:  # pragma: no cover - an aggregate always returns one row
        return ChainCheck(0, GENESIS, None)
    rows, head, broken = row
    return ChainCheck(int(rows), str(head), None if broken is None else int(broken))
