"""Docker detection shared by every container-backed provider (PostgreSQL, LocalStack).

Without a reachable daemon the caller skips the scenario with the reason from
:func:`docker_status`; nothing is pulled or started. A container is a throwaway: started on
first use, stopped on exit, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.errors import ProviderError, first_line


class DockerUnavailable(ProviderError):
    """No Docker daemon is reachable: scenarios that need one are skipped, never verified."""


@dataclass(frozen=True)
class DockerStatus:
    available: bool
    reason: str


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
