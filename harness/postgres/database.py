"""A PostgreSQL database handle (never shows its password), and creating databases on a server."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import conninfo as pg_conninfo

from harness.errors import ConfigError, ProviderError, first_line
from harness.postgres.binaries import pg_free_env


@dataclass(frozen=True)
class Database:
    """Connection details for one database. ``repr`` never shows the password."""

    host: str
    port: int
    dbname: str
    user: str
    password: str | None = field(default=None, repr=False)
    provider: str = "external"
    environment: str = "unknown"
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def conninfo(self) -> str:
        params: dict[str, Any] = dict(self.extra)
        params.update(host=self.host, port=self.port, dbname=self.dbname, user=self.user)
        if self.password is not None:
            params["password"] = self.password
        return pg_conninfo.make_conninfo(**params)

    def connect(self, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.conninfo, autocommit=autocommit, **kwargs)
        except psycopg.OperationalError as exc:
            raise ProviderError(f"cannot connect to {self.label}: {first_line(exc)}") from None
        try:  # a server shutting down (a failed recovery) can accept and then drop the connection
            conn.execute("SET TIME ZONE 'UTC'")
            if not autocommit:
                conn.commit()
        except psycopg.OperationalError as exc:
            conn.close()
            raise ProviderError(f"{self.label} dropped the connection: {first_line(exc)}") from None
        return conn

    def with_dbname(self, dbname: str) -> Database:
        return Database(
            self.host,
            self.port,
            dbname,
            self.user,
            self.password,
            self.provider,
            self.environment,
            self.extra,
        )

    def with_environment(self, environment: str) -> Database:
        return Database(
            self.host,
            self.port,
            self.dbname,
            self.user,
            self.password,
            self.provider,
            environment,
            self.extra,
        )

    @property
    def label(self) -> str:
        return f"{self.provider} postgres {self.user}@{self.host}:{self.port}/{self.dbname}"

    def describe(self) -> dict[str, Any]:
        """Redacted description for evidence and logs: never the password."""
        return {
            "provider": self.provider,
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "environment": self.environment,
        }

    def tool_env(self) -> dict[str, str]:
        """Environment for libpq command-line tools (pg_dump, psql) without the password on argv."""
        env = pg_free_env()
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user, PGDATABASE=self.dbname)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def create_database(admin: Database, name: str, *, template: str | None = None) -> Database:
    """Create (or recreate) a database on the same server and return its handle."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ConfigError(f"database name {name!r} must be a lower-case identifier")
    with admin.connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            conn.execute(f'CREATE DATABASE "{name}"')
    return admin.with_dbname(name)
