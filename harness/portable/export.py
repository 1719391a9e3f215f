"""Exporter: PostgreSQL → one JSON Lines file per entity plus ``manifest.json``.

All entities are read in one REPEATABLE READ, READ ONLY transaction, so the
export is a consistent snapshot. PostgreSQL renders each row as JSON
(``row_to_json`` over the contract's fields in sorted order, timestamps as UTC
RFC 3339 with microseconds) and streams it with ``COPY … TO STDOUT``; Python
only hashes and writes bytes, so memory stays flat in the row count.

Files are written into ``<out>.partial/`` and the directory is renamed into
place after ``manifest.json`` (written last) is complete: a crash never leaves
something that looks like a finished export.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from harness import __version__
from harness.clock import utc_iso
from harness.errors import ConfigError
from harness.files import MANIFEST, replace_json
from harness.portable.contract import Contract, Entity
from harness.postgres.database import Database
from harness.postgres.errors import server_error

EXPORT_FORMAT_VERSION = "1"

_TIMESTAMP_TYPES = {"timestamptz", "timestamp"}
_BINARY_TYPES = {"bytea"}
_RFC3339_US = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'


@dataclass(frozen=True)
class SourceInfo:
    """Where the export comes from; recorded in the manifest. Never holds credentials."""

    environment: str = "unknown"
    stack: str = "unknown"
    region: str = "unknown"
    app_git_sha: str = "unknown"

    @classmethod
    def from_env(cls, environment: str | None = None, **overrides: str) -> SourceInfo:
        values = {
            "environment": environment or os.environ.get("DRILL_SOURCE_ENVIRONMENT", "unknown"),
            "stack": os.environ.get("DRILL_SOURCE_STACK", "unknown"),
            "region": os.environ.get("DRILL_SOURCE_REGION", os.environ.get("AWS_REGION", "unknown")),
            "app_git_sha": os.environ.get("DRILL_APP_GIT_SHA", os.environ.get("GITHUB_SHA", "unknown")),
        }
        values.update({k: v for k, v in overrides.items() if v})
        return cls(**values)


@dataclass(frozen=True)
class EntityExport:
    entity: str
    file: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class ExportResult:
    directory: Path
    manifest: dict[str, Any]
    entities: list[EntityExport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(e.rows for e in self.entities)


def _source_relation(entity: Entity) -> sql.Composable:
    if entity.table:
        return sql.Identifier(*entity.table.split("."))
    assert entity.query is not None
    return sql.SQL("({})").format(sql.SQL(entity.query))  # trusted contract text


def _column_types(conn: psycopg.Connection[Any], entity: Entity, contract: Contract) -> dict[str, str]:
    """Names and type names of the source's columns."""
    query = sql.SQL("SELECT * FROM {} AS src LIMIT 0").format(_source_relation(entity))
    try:
        cur = conn.execute(query)
    except psycopg.Error as exc:
        raise ConfigError(
            f"{contract.path}: entity {entity.name!r}: cannot read source "
            f"{entity.table or 'query'}: {server_error(exc)}"
        ) from None
    types: dict[str, str] = {}
    for col in cur.description or []:
        info = psycopg.postgres.types.get(col.type_code)
        types[col.name] = info.name if info else str(col.type_code)
    return types


def entity_query(
    conn: psycopg.Connection[Any],
    entity: Entity,
    contract: Contract,
    *,
    keys_param: bool = False,
    lookup: str | None = None,
) -> sql.Composed:
    """The SELECT producing one canonical JSON text per record, ordered by primary key, each column
    under its field's name (the contract's ``columns`` map fields to columns).

    Shared by the exporter and the dry-run comparison so both render records identically.
    With ``keys_param`` the query takes one parameter, the keys to read (``_keys_filter``). With
    ``lookup`` (the dry run's server-side compare; a one-field key only) each row starts with the
    record's key as text, then the JSON, and the query takes named parameters: for ``"keys"``,
    ``keys``, a JSON array of keys as strings (rows in no particular order); for ``"range"``,
    ``low``, ``high`` and ``cap``: the first ``cap`` rows (by key) with keys from ``low`` to ``high``.
    """
    types = _column_types(conn, entity, contract)
    context = f"{contract.path}: entity {entity.name!r}"
    column_of = {name: entity.column(name) for name in entity.fields}
    missing = sorted(f for f, c in column_of.items() if c not in types)
    if missing:
        raise ConfigError(f"{context}: schema fields missing from the source: {', '.join(missing)}")
    undeclared = sorted(set(types) - set(column_of.values()) - set(entity.redact))
    if undeclared:
        raise ConfigError(
            f"{context}: source columns neither declared in the schema nor redacted: {', '.join(undeclared)} "
            "(add them to the entity's schema, or to 'redact' if they must not leave the database)"
        )
    columns: list[sql.Composable] = []
    for name, column in column_of.items():
        ident, alias = sql.Identifier(column), sql.Identifier(name)
        type_name = types[column]
        if type_name in _BINARY_TYPES:
            raise ConfigError(
                f"{context}: column {column!r} is binary ({type_name}); raw binary payloads are never "
                "exported — add it to 'redact'"
            )
        if type_name in _TIMESTAMP_TYPES:
            zone = sql.SQL(" AT TIME ZONE 'UTC'") if type_name == "timestamptz" else sql.SQL("")
            columns.append(
                sql.SQL("to_char({}{}, {}) AS {}").format(ident, zone, sql.Literal(_RFC3339_US), alias)
            )
        else:
            columns.append(sql.SQL("{} AS {}").format(ident, alias))
    keys = [sql.Identifier(entity.column(k)) for k in entity.key_fields]
    head: sql.Composable = sql.SQL("")
    where: sql.Composable = sql.SQL("")
    order: sql.Composable = sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(keys))
    if keys_param:
        where = _keys_filter(entity, keys, types)
    elif lookup is not None:
        head, where, order = _lookup(entity, types, lookup)
    return sql.SQL("SELECT {}row_to_json(r)::text FROM (SELECT {} FROM {} AS src{}{}) AS r").format(
        head, sql.SQL(", ").join(columns), _source_relation(entity), where, order
    )


def _lookup(
    entity: Entity, types: dict[str, str], lookup: str
) -> tuple[sql.Composable, sql.Composable, sql.Composable]:
    """The key-text head, ``WHERE`` and ``ORDER BY`` of a ``lookup`` query (see :func:`entity_query`)."""
    if len(entity.key_fields) != 1 or lookup not in ("keys", "range"):
        raise ValueError(f"entity {entity.name!r}: no {lookup!r} lookup for this key")
    field_name = entity.key_fields[0]
    column = sql.Identifier(entity.column(field_name))
    cast = sql.Identifier(types[entity.column(field_name)])
    head = sql.SQL("r.{}::text, ").format(sql.Identifier(field_name))
    if lookup == "range":  # keys sorted ascending: one index range scan instead of a probe per key
        where = sql.SQL(" WHERE {} BETWEEN %(low)s::text::{} AND %(high)s::text::{}").format(
            column, cast, cast
        )
        return head, where, sql.SQL(" ORDER BY {} LIMIT %(cap)s").format(column)
    where = sql.SQL(" WHERE {} = ANY(ARRAY(SELECT jsonb_array_elements_text(%(keys)s::jsonb))::{}[])").format(
        column, cast
    )
    return head, where, sql.SQL("")  # the comparison needs no order


def _keys_filter(entity: Entity, keys: list[sql.Identifier], types: dict[str, str]) -> sql.Composable:
    """``WHERE`` the key is one of a parameter: a text array of ids, or for a composite key a JSON
    array of the ids' arrays (``[["doc-1",2],…]``), each part cast to its column's type."""
    casts = [sql.Identifier(types[entity.column(k)]) for k in entity.key_fields]
    if len(keys) == 1:
        return sql.SQL(" WHERE {} = ANY(%s::text[]::{}[])").format(keys[0], casts[0])
    parts = sql.SQL(", ").join(
        sql.SQL("(e ->> {})::{}").format(sql.Literal(i), cast) for i, cast in enumerate(casts)
    )
    return sql.SQL(" WHERE ({}) IN (SELECT {} FROM jsonb_array_elements(%s::jsonb) AS e)").format(
        sql.SQL(", ").join(keys), parts
    )


def _copy_entity(conn: psycopg.Connection[Any], query: sql.Composed, path: Path) -> EntityExport:
    digest = hashlib.sha256()
    rows = 0
    size = 0
    copy_sql = sql.SQL("COPY ({}) TO STDOUT").format(query)
    with conn.cursor() as cur, path.open("wb", buffering=1 << 20) as out, cur.copy(copy_sql) as copy:
        for chunk in copy:
            data = bytes(chunk)
            # COPY text format escapes only backslashes here: JSON output never holds raw control bytes.
            if b"\\" in data:
                data = data.replace(b"\\\\", b"\\")
            digest.update(data)
            out.write(data)
            rows += data.count(b"\n")
            size += len(data)
    return EntityExport(entity="", file=path.name, rows=rows, bytes=size, sha256=digest.hexdigest())


def export(db: Database, contract: Contract, out_dir: Path, source: SourceInfo | None = None) -> ExportResult:
    """Export every contract entity from ``db`` into ``out_dir`` (which must not exist)."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise ConfigError(f"export directory {out_dir} already exists; exports are never overwritten")
    partial = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    source = source or SourceInfo.from_env(db.environment)
    started = time.perf_counter()
    result = ExportResult(directory=out_dir, manifest={})
    try:
        with db.connect() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot_at = conn.execute(
                sql.SQL("SELECT to_char(now() AT TIME ZONE 'UTC', {})").format(
                    sql.Literal('YYYY-MM-DD"T"HH24:MI:SS"Z"')
                )
            ).fetchone()
            for entity in contract.entities:
                query = entity_query(conn, entity, contract)
                done = _copy_entity(conn, query, partial / entity.file)
                result.entities.append(
                    EntityExport(entity.name, done.file, done.rows, done.bytes, done.sha256)
                )
            conn.rollback()
        generated_at = snapshot_at[0] if snapshot_at else utc_iso()
        result.manifest = build_manifest(contract, result.entities, source, generated_at)
        replace_json(partial / MANIFEST, result.manifest)
        os.rename(partial, out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    result.seconds = time.perf_counter() - started
    return result


def build_manifest(
    contract: Contract, entities: list[EntityExport], source: SourceInfo, generated_at: str
) -> dict[str, Any]:
    return {
        "export_format_version": EXPORT_FORMAT_VERSION,
        "schema_version": contract.schema_version,
        "generated_at": generated_at,
        "source_environment": source.environment,
        "source_stack": source.stack,
        "source_region": source.region,
        "app_git_sha": source.app_git_sha,
        "contract": {"name": contract.name, "sha256": f"sha256:{contract.sha256}"},
        "harness_version": __version__,
        "entity_files": {e.entity: e.file for e in entities},
        "entity_counts": {e.entity: e.rows for e in entities},
        "checksums": {e.file: f"sha256:{e.sha256}" for e in entities},
        "redactions": {ent.name: list(ent.redact) for ent in contract.entities if ent.redact},
        "omitted_entities": [{"entity": o.entity, "reason": o.reason} for o in contract.omitted],
    }
