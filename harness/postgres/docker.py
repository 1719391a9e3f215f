"""The docker provider: PostgreSQL in a pinned container (testcontainers), started on first use
and removed on exit. Without a reachable Docker daemon the drill is skipped with the reason
(``harness.containers``)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

from harness.containers import DockerUnavailable, require_docker, started
from harness.errors import ProviderError, StepSkipped
from harness.postgres.database import Database
from harness.postgres.providers import DatabaseRole, ThrowawayServer

#: Pinned image (override with DRILL_POSTGRES_IMAGE, e.g. to pin a digest: postgres:16-alpine@sha256:…).
POSTGRES_IMAGE = "postgres:16-alpine"
PROVIDER = "docker"


@contextlib.contextmanager
def docker_postgres(image: str | None = None) -> Iterator[Database]:
    """A PostgreSQL container from the pinned image; yields its ``postgres`` (admin) database."""
    require_docker("the docker PostgreSQL provider")
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError as exc:
        raise ProviderError(f"the docker provider needs testcontainers[postgres] ({exc})") from None
    image = image or os.environ.get("DRILL_POSTGRES_IMAGE") or POSTGRES_IMAGE
    password = secrets.token_urlsafe(18)
    container = PostgresContainer(
        image, username="postgres", password=password, dbname="postgres", driver=None
    )
    with started(container, image):
        yield Database(
            host=container.get_container_host_ip(),
            port=int(container.get_exposed_port(5432)),
            dbname="postgres",
            user="postgres",
            password=password,
            provider=PROVIDER,
            environment="drill",
        )


class DockerProvider(ThrowawayServer):
    """The ``docker`` provider: one container per lane, started on first use and stopped with the
    lane's exit stack. Without a reachable Docker daemon the step is skipped with the reason."""

    def __init__(self, stack: contextlib.ExitStack, source: DatabaseRole) -> None:
        self._stack = stack
        self._admin: Database | None = None

    def require(self, role: str) -> None:
        self.admin(role)

    def admin(self, role: str = "source") -> Database:
        if self._admin is None:
            try:
                self._admin = self._stack.enter_context(docker_postgres())
            except DockerUnavailable as exc:
                raise StepSkipped(f"{role}.postgres.provider is docker: {exc}") from None
        return self._admin
