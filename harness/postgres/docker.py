"""Docker provider: detect a reachable Docker daemon, and run PostgreSQL in a pinned container.

Used when a scenario (or ``--pg-provider docker``) asks for it. Without a reachable daemon the
caller skips the scenario with the reason from :func:`docker_status`; nothing is pulled or
started. The container is a throwaway: started on first use, removed on exit, also on Ctrl-C.
The LocalStack container (``harness.aws.providers``) uses the same detection.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.errors import ProviderError
from harness.postgres.embedded import Database

#: Pinned image (override with DRILL_POSTGRES_IMAGE, e.g. to pin a digest: postgres:16-alpine@sha256:…).
POSTGRES_IMAGE = "postgres:16-alpine"
PROVIDER = "docker"


class DockerUnavailable(ProviderError):
    """No Docker daemon is reachable: scenarios that need one are skipped, never verified."""


@dataclass(frozen=True)
class DockerStatus:
    available: bool
    reason: str


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (at most 200 characters), or its type when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _where() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_status(timeout: float = 3.0) -> DockerStatus:
    """Whether a Docker daemon answers a ping at DOCKER_HOST (or the default socket)."""
    try:
        import docker
    except ImportError:
        return DockerStatus(False, "the docker SDK is not installed (pip install 'testcontainers[postgres]')")
    try:
        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            client.ping()
            version = client.version().get("Version", "unknown")
        finally:
            client.close()
    except Exception as exc:
        return DockerStatus(False, f"no Docker daemon is reachable at {_where()} ({first_line(exc)})")
    return DockerStatus(True, f"Docker daemon {version} at {_where()}")


def require_docker(what: str) -> None:
    """Raise DockerUnavailable naming ``what`` needed Docker, and why it is not there."""
    status = docker_status()
    if not status.available:
        raise DockerUnavailable(f"{what} needs Docker, but {status.reason}")


@contextlib.contextmanager
def started(container: Any, image: str) -> Iterator[Any]:
    """Run a testcontainers container for the ``with`` block; it is stopped on exit, and also when
    starting it fails half-way (a ProviderError naming the image then says why)."""
    try:
        container.start()
    except Exception as exc:
        with contextlib.suppress(Exception):
            container.stop()
        raise ProviderError(f"cannot start {image}: {first_line(exc)}") from None
    try:
        yield container
    finally:
        container.stop()


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
