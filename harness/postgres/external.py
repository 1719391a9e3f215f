"""The external provider: a database given by a DSN (from an environment variable, never argv)."""

from __future__ import annotations

import os

import psycopg
from psycopg import conninfo as pg_conninfo

from harness.errors import ConfigError, first_line
from harness.postgres.database import Database


def external_database(dsn: str, *, environment: str | None, source: str) -> Database:
    """A database given by DSN. ``source`` names where the DSN came from, for error messages."""
    try:
        params = pg_conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"{source}: not a valid PostgreSQL DSN ({first_line(exc)})") from None
    host = str(params.pop("host", "localhost"))
    port = int(str(params.pop("port", 5432)))
    dbname = str(params.pop("dbname", "postgres"))
    user = str(params.pop("user", os.environ.get("USER", "postgres")))
    password = params.pop("password", None)
    return Database(
        host=host,
        port=port,
        dbname=dbname,
        user=user,
        password=None if password is None else str(password),
        provider="external",
        # An external database whose role is not declared is treated as production: fail safe.
        environment=environment or "production",
        extra={k: str(v) for k, v in params.items()},
    )
