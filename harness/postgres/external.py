"""The external provider: a database given by a DSN (from an environment variable, never argv)."""

from __future__ import annotations

import contextlib
import os

import psycopg
from psycopg import conninfo as pg_conninfo

from harness.errors import ConfigError, first_line
from harness.postgres.database import Database
from harness.postgres.providers import DatabaseRole, PostgresProvider


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


class ExternalProvider(PostgresProvider):
    """The ``external`` provider: each role's database comes from the DSN in the environment variable
    its ``postgres.dsn_env`` names. Not a throwaway: the harness creates no databases on it."""

    throwaway = False

    def __init__(self, stack: contextlib.ExitStack, source: DatabaseRole) -> None:
        pass

    def require(self, role: str) -> None:
        """Nothing to start."""

    def admin(self, role: str = "source") -> Database:
        raise ConfigError(f"{role}.postgres.provider is external: the harness creates no databases on it")

    def database(self, spec: DatabaseRole, dbname: str) -> Database:
        """The role's database as the DSN names it (``dbname`` does not apply)."""
        var = spec.dsn_env
        if not var:
            raise ConfigError(
                f"{spec.where}: {spec.role}.postgres.dsn_env must name the variable holding the DSN"
            )
        dsn = os.environ.get(var)
        if not dsn:
            raise ConfigError(f"{spec.where}: environment variable {var} (the {spec.role} DSN) is not set")
        return external_database(dsn, environment=spec.declared_environment, source=f"${var}")
