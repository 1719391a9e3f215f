"""Processes around an embedded cluster: client tools run as the server's account, killing a
server (a crash, for fault drills and tests), and sweeping clusters whose owner died."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.errors import ProviderError


class ServerFiles(Protocol):
    """What the process helpers need of a cluster (``EmbeddedCluster`` has it)."""

    bindir: Path  # server and client binaries
    base: Path  # the cluster's own directory (data, socket, log)
    data: Path  # the data directory
    account: tuple[int, int] | None  # (uid, gid) the server runs as, when the harness is root
    running: bool


OWNER_FILE = "drill-owner.json"
DIR_PREFIX = "drill-pg-"


def run_tool(
    cluster: ServerFiles, tool: str, args: list[str], *, env: Mapping[str, str], timeout: float = 1800
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


def hand_over(path: Path, account: tuple[int, int] | None) -> None:
    """Give a tree to the server account (when the harness is root): a data directory it restored,
    WAL it staged for restore_command. Links are changed themselves, never followed."""
    if not account:
        return
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), *account, follow_symlinks=False)
    os.chown(path, *account)


def postmaster_pid(data: Path) -> int | None:
    """The pid in ``<data>/postmaster.pid``, or None when there is no readable pid file."""
    try:
        return int((data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def postmaster_alive(data: Path) -> bool:
    pid = postmaster_pid(data)
    return pid is not None and _alive(pid)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def kill_server(cluster: ServerFiles, timeout: float = 10) -> int:
    """SIGKILL the postmaster and its children (a crash, not a shutdown); return the postmaster pid."""
    pid = postmaster_pid(cluster.data)
    if pid is None:
        raise ProviderError(f"no running server in {cluster.data}")
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


#: Statuses in line 8 of ``postmaster.pid`` of a server that accepts connections (what ``pg_ctl -w``
#: waits for: ``ready``, or ``standby`` for a hot standby in recovery).
_READY = ("ready", "standby")


def spawn_server(cluster: ServerFiles, log: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start the postmaster (as the server account when root) in its own session, its output
    appended to ``log``; :func:`wait_ready` tells when it accepts connections. ``pg_ctl start -w``
    polls every 100 ms; this is the same start without that wait."""
    kwargs: dict[str, Any] = {}
    if cluster.account:
        kwargs.update(user=cluster.account[0], group=cluster.account[1], extra_groups=[])
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        if cluster.account:
            os.fchown(fd, *cluster.account)
        return subprocess.Popen(
            [str(cluster.bindir / "postgres"), "-D", str(cluster.data)],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            env=dict(env),
            cwd=cluster.base,
            start_new_session=True,  # Ctrl-C reaches the harness, which stops the server itself
            **kwargs,
        )
    finally:
        os.close(fd)


def wait_ready(data: Path, server: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until the postmaster ``server`` accepts connections (its pid file says ready); False
    when it exited first. A ProviderError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.002
    while server.poll() is None:
        try:
            lines = (data / "postmaster.pid").read_text().splitlines()
        except OSError:
            lines = []
        if len(lines) >= 8 and lines[0].strip() == str(server.pid) and lines[7].strip() in _READY:
            return True
        if time.monotonic() > deadline:
            raise ProviderError(f"the server in {data} did not accept connections within {timeout:.0f}s")
        time.sleep(pause)
        pause = min(pause * 1.5, 0.02)
    return False


def signal_stop(data: Path, sig: signal.Signals, timeout: float) -> bool:
    """Send the postmaster of ``data`` a shutdown signal (SIGINT fast, SIGQUIT immediate) and wait
    until it is gone; True when no server runs there any more."""
    pid = postmaster_pid(data)
    if pid is None or not _alive(pid):
        return True
    if not _serves(pid, data):
        return False  # a stale pid file naming some other process: never signal it
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    pause = 0.002
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 1.5, 0.02)
    return True


def _serves(pid: int, data: Path) -> bool:
    """Whether process ``pid`` is a postmaster started on ``data`` (its command line names it)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(data) in args


def kill_postmaster(data: Path) -> None:
    pid = postmaster_pid(data)
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def sweep_stale_clusters(base_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Stop and remove embedded clusters whose owning process has died (e.g. after SIGKILL)."""
    removed: list[Path] = []
    root = Path(base_dir or tempfile.gettempdir())
    for owner in root.glob(f"{DIR_PREFIX}*/{OWNER_FILE}"):
        try:
            pid = int(json.loads(owner.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        kill_postmaster(owner.parent / "data")
        shutil.rmtree(owner.parent, ignore_errors=True)
        removed.append(owner.parent)
    return removed


def remove_tree(path: Path, *, detached: bool = False) -> None:
    """Remove a cluster's directory; ``detached`` (no server runs there): moved into the temp
    directory and deleted by a detached ``rm -rf``, off the caller's path (a cluster is a few
    thousand files, ~0.1 s of unlinks). It keeps its prefix and owner file, so should this process
    die first, the stale sweep removes it; where it cannot be moved it is removed here."""
    sh, rm = (shutil.which("sh"), shutil.which("rm")) if detached else (None, None)
    aside = Path(tempfile.gettempdir()) / f"{path.name}-removed"
    if sh and rm and path.name.startswith(DIR_PREFIX):
        with contextlib.suppress(OSError):
            path.rename(aside)
            path = aside
            script = '"$2" -rf -- "$1" >/dev/null 2>&1 </dev/null &'  # sh returns at once
            with contextlib.suppress(subprocess.SubprocessError):
                subprocess.run([sh, "-c", script, "sh", str(aside), rm], check=True, timeout=30)
                return
    shutil.rmtree(path, ignore_errors=True)
