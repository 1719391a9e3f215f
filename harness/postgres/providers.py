"""The PostgreSQL provider interface and its registry.

A provider is where a lane's databases live: ``embedded`` (a throwaway cluster from local server
binaries), ``docker`` (a throwaway container) or ``external`` (a database named by a DSN). A lane
makes one provider per name (``Lane.pg_provider``), which starts its server on first use inside
the lane's exit stack. A new provider is a class and a line in ``PG_PROVIDERS``; the command-line
choices and the scenario schema's ``postgres.provider`` enum follow this registry (a test keeps
the schema equal to it).
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from harness.errors import ConfigError
from harness.registry import load

if TYPE_CHECKING:
    from harness.postgres.database import Database

# provider name -> "module:Class"; imported lazily (psycopg, testcontainers) on first use.
PG_PROVIDERS: dict[str, str] = {
    "embedded": "harness.postgres.embedded:EmbeddedProvider",
    "external": "harness.postgres.external:ExternalProvider",
    "docker": "harness.postgres.docker:DockerProvider",
}


#: The environment a database on a throwaway server gets, per role, unless the scenario declares one.
THROWAWAY_ENVIRONMENT = {"source": "drill", "target": "scratch"}
DEFAULT_PROVIDER = "embedded"


@dataclass(frozen=True)
class DatabaseRole:
    """A role's database as the scenario and the command line leave it (``Scenario.database``)."""

    role: str  # source | target
    provider: str
    declared_environment: str | None  # None: undeclared (an external target then counts as production)
    bindir: str | None = None
    dsn_env: str | None = None
    where: str = "scenario"  # the scenario file, for messages

    @property
    def environment(self) -> str:
        """The environment of a database on a throwaway server: as declared, else drill or scratch."""
        return self.declared_environment or THROWAWAY_ENVIRONMENT[self.role]


class PostgresProvider(Protocol):
    """Where a lane's databases live. ``throwaway``: a server the harness started itself, on which it
    may create and drop databases."""

    throwaway: bool

    def require(self, role: str) -> None:
        """Have now what may be missing (Docker), or raise StepSkipped naming ``role``'s provider."""

    def admin(self, role: str = "source") -> Database:
        """The server's maintenance database, started on first use (throwaway servers only)."""

    def database(self, spec: DatabaseRole, dbname: str) -> Database:
        """``spec.role``'s database (``dbname`` on a throwaway server)."""


#: ``Provider(stack, source)``: ``source`` is the scenario's source role (e.g. its ``bindir``).
ProviderFactory = Callable[[contextlib.ExitStack, DatabaseRole], PostgresProvider]


def provider_factory(name: str, where: str) -> ProviderFactory:
    """The provider class registered as ``name``; ``where`` names the setting, for the error."""
    try:
        target = PG_PROVIDERS[name]
    except KeyError:
        raise ConfigError(f"{where} {name!r} is not supported here") from None
    factory: ProviderFactory = load(target)
    return factory


class ThrowawayServer(PostgresProvider):
    """A server the harness starts itself: every role's database is ``dbname`` on it."""

    throwaway = True

    def require(self, role: str) -> None:
        """Nothing to have in advance."""

    @abstractmethod
    def admin(self, role: str = "source") -> Database: ...

    def database(self, spec: DatabaseRole, dbname: str) -> Database:
        return self.admin(spec.role).with_dbname(dbname).with_environment(spec.environment)
