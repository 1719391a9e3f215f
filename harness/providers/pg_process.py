"""Processes around an embedded cluster: client tools run as the server's account, and
killing a server (a crash, for fault drills and tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import ProviderError
from harness.providers.postgres import EmbeddedCluster


def run_tool(
    cluster: EmbeddedCluster, tool: str, args: list[str], *, env: Mapping[str, str], timeout: float = 1800
) -> subprocess.CompletedProcess[str]:
    """Run one of the cluster's client tools, as the server's account when we are root."""
    kwargs: dict[str, Any] = {}
    if cluster.account:
        kwargs.update(user=cluster.account[0], group=cluster.account[1], extra_groups=[])
    try:
        return subprocess.run(
            [str(cluster.bindir / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env),
            cwd=cluster.base,
            check=False,
            **kwargs,
        )
    except FileNotFoundError:
        raise ProviderError(
            f"{tool} not found in {cluster.bindir} (it ships with the server package)"
        ) from None


def postmaster_alive(data: Path) -> bool:
    try:
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    return _alive(pid)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def kill_server(cluster: EmbeddedCluster, timeout: float = 10) -> int:
    """SIGKILL the postmaster and its children (a crash, not a shutdown); return the postmaster pid."""
    try:
        pid = int((cluster.data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        raise ProviderError(f"no running server in {cluster.data}") from None
    children = [p for p in _pids() if _parent(p) == pid]
    for victim in (pid, *children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in (pid, *children)) and time.monotonic() < deadline:
        time.sleep(0.02)
    cluster.running = False
    return pid


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
