"""Measured RPO: a heartbeat row the application writes regularly, found again after a restore.

RPO = the reference time (the recovery target, or the drill time for "latest" and whole-backup
restores) minus the newest heartbeat in the restored data. For clusters the harness makes itself it
writes the heartbeat into its own table (``drill_heartbeat``), so harness-made drills report a
measured RPO too. The query runs READ ONLY with a statement timeout; table, column and filter
columns are identifiers quoted by psycopg, filter values are bound parameters (never SQL text).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from harness.clock import utc_iso
from harness.errors import ConfigError, VerificationFailed
from harness.postgres.database import Database
from harness.postgres.errors import server_error
from harness.scenario import HeartbeatSpec

#: The heartbeat the harness writes into clusters it makes (pitr, the pgBackRest stand-in).
HARNESS_HEARTBEAT = HeartbeatSpec("drill_heartbeat", "beat_at")
_TIMESTAMPTZ = "timestamp with time zone"


def _table(spec: HeartbeatSpec) -> sql.Composable:
    return sql.Identifier(*spec.table.split(".", 1))


def create_heartbeat_table(db: Database) -> None:
    """The harness's own heartbeat table (idempotent)."""
    with db.connect() as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS drill_heartbeat (id bigserial PRIMARY KEY, "
            "beat_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )
        conn.commit()


def write_heartbeat(db: Database) -> datetime:
    """One committed heartbeat row in ``drill_heartbeat``; returns its time (server clock)."""
    with db.connect(autocommit=True) as conn:
        row = conn.execute("INSERT INTO drill_heartbeat DEFAULT VALUES RETURNING beat_at").fetchone()
    assert row is not None
    beat: datetime = row[0]
    return beat.astimezone(UTC)


@dataclass(frozen=True)
class HeartbeatResult:
    spec: HeartbeatSpec
    newest: datetime
    reference: datetime
    reference_means: str

    @property
    def rpo_seconds(self) -> float:
        return max(0.0, (self.reference - self.newest).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.spec.table,
            "column": self.spec.column,
            "where_columns": [name for name, _ in self.spec.where],
            "newest": utc_iso(self.newest, micro=True),
            "reference": utc_iso(self.reference, micro=True),
            "reference_means": self.reference_means,
            "rpo_seconds": round(self.rpo_seconds, 3),
        }


def _column_type(conn: psycopg.Connection[Any], spec: HeartbeatSpec) -> str | None:
    row = conn.execute(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attname = %s AND NOT a.attisdropped",
        (_table(spec).as_string(conn), spec.column),
    ).fetchone()
    return None if row is None else str(row[0])


def measure_heartbeat(
    db: Database, spec: HeartbeatSpec, reference: datetime, reference_means: str, *, timeout_ms: int = 60_000
) -> HeartbeatResult:
    """The newest heartbeat in ``db``. Missing table or no heartbeat row: VerificationFailed (the
    restored data cannot show its RPO); a column that is not timestamptz: ConfigError."""
    where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name, _ in spec.where)
    query = sql.SQL("SELECT max({col}) FROM {table}{where}").format(
        col=sql.Identifier(spec.column),
        table=_table(spec),
        where=sql.SQL(" WHERE ") + where if spec.where else sql.SQL(""),
    )
    with db.connect() as conn:
        conn.execute("BEGIN READ ONLY")
        conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(timeout_ms)))
        exists = conn.execute("SELECT to_regclass(%s)", (_table(spec).as_string(conn),)).fetchone()
        if exists is None or exists[0] is None:
            raise VerificationFailed(
                f"heartbeat table {spec.table} is not in the restored data ({db.dbname}); the RPO "
                "cannot be measured"
            )
        kind = _column_type(conn, spec)
        if kind != _TIMESTAMPTZ:
            what = "has no such column" if kind is None else f"is {kind}"
            raise ConfigError(
                f"heartbeat.column: {spec.table}.{spec.column} {what}; a heartbeat needs a timestamptz column"
            )
        try:
            row = conn.execute(query, [value for _, value in spec.where]).fetchone()
        except psycopg.Error as exc:
            raise ConfigError(f"heartbeat: the query on {spec.table} failed: {server_error(exc)}") from None
        conn.rollback()
    newest = row[0] if row else None
    if newest is None:
        filtered = " matching heartbeat.where" if spec.where else ""
        raise VerificationFailed(
            f"heartbeat table {spec.table} holds no row{filtered} in the restored data; the RPO "
            "cannot be measured"
        )
    result = HeartbeatResult(spec, newest.astimezone(UTC), reference.astimezone(UTC), reference_means)
    if result.newest > result.reference:
        raise VerificationFailed(
            f"the newest heartbeat in {spec.table} ({utc_iso(result.newest, micro=True)}) is later than "
            f"the {reference_means} ({utc_iso(result.reference, micro=True)}): the restore went past its "
            "target, or the heartbeat's clock is ahead"
        )
    return result
