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
from harness.errors import ConfigError, first_line
from harness.files import MANIFEST, replace_json
from harness.portable.contract import Contract, Entity
from harness.postgres.database import Database

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
            f"{entity.table or 'query'}: {first_line(exc)}"
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
    key_range: bool = False,
) -> sql.Composed:
    """The SELECT producing one canonical JSON text per record, ordered by primary key.

    Shared by the exporter and the dry-run comparison so both render records identically.
    With ``keys_param`` the query takes one named parameter, ``keys``: a JSON array of primary keys
    as strings, and each row starts with the record's primary key as text (then the JSON), in no
    particular order. With ``key_range`` as well, it takes ``low``, ``high`` and ``cap`` instead:
    the first ``cap`` rows (by key) with keys from ``low`` to ``high``.
    """
    types = _column_types(conn, entity, contract)
    context = f"{contract.path}: entity {entity.name!r}"
    missing = sorted(set(entity.fields) - set(types))
    if missing:
        raise ConfigError(f"{context}: schema fields missing from the source: {', '.join(missing)}")
    undeclared = sorted(set(types) - set(entity.fields) - set(entity.redact))
    if undeclared:
        raise ConfigError(
            f"{context}: source columns neither declared in the schema nor redacted: {', '.join(undeclared)} "
            "(add them to the entity's schema, or to 'redact' if they must not leave the database)"
        )
    columns: list[sql.Composable] = []
    for name in entity.fields:
        ident = sql.Identifier(name)
        type_name = types[name]
        if type_name in _BINARY_TYPES:
            raise ConfigError(
                f"{context}: column {name!r} is binary ({type_name}); raw binary payloads are never "
                "exported — add it to 'redact'"
            )
        if type_name in _TIMESTAMP_TYPES:
            zone = sql.SQL(" AT TIME ZONE 'UTC'") if type_name == "timestamptz" else sql.SQL("")
            columns.append(
                sql.SQL("to_char({}{}, {}) AS {}").format(ident, zone, sql.Literal(_RFC3339_US), ident)
            )
        else:
            columns.append(ident)
    pk = sql.Identifier(entity.primary_key)
    order: sql.Composable = sql.SQL(" ORDER BY {}").format(pk)
    key: sql.Composable = sql.SQL("")
    where: sql.Composable = sql.SQL("")
    if keys_param:
        pk_type = sql.Identifier(types[entity.primary_key])
        where = sql.SQL(
            " WHERE {} = ANY(ARRAY(SELECT jsonb_array_elements_text(%(keys)s::jsonb))::{}[])"
        ).format(pk, pk_type)
        if key_range:  # keys sorted ascending: one index range scan instead of a probe per key
            where = sql.SQL(" WHERE {} BETWEEN %(low)s::text::{} AND %(high)s::text::{}").format(
                pk, pk_type, pk_type
            )
            order = sql.SQL(" ORDER BY {} LIMIT %(cap)s").format(pk)
        else:
            order = sql.SQL("")  # the comparison needs no order
        key = sql.SQL("r.{}::text, ").format(pk)
    return sql.SQL("SELECT {}row_to_json(r)::text FROM (SELECT {} FROM {} AS src{}{}) AS r").format(
        key, sql.SQL(", ").join(columns), _source_relation(entity), where, order
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
