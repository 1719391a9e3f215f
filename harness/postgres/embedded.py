"""The embedded provider: a throwaway PostgreSQL cluster the harness starts itself.

It initialises a cluster from local server binaries,
listens on a free 127.0.0.1 port with a private socket directory, uses
SCRAM authentication with a random password that lives only in memory, and is
torn down in ``finally`` (also on Ctrl-C). As root it runs the server as the
unprivileged ``postgres`` OS user, because PostgreSQL refuses to run as root.

``initdb`` runs once per process (per binaries and server account): every cluster after the first
is a copy of that template data directory (tens of milliseconds instead of about a second), and
shares its random password. The template lives beside the clusters under the temp directory,
marked with this process as owner, so it is removed at exit or swept once this process is gone.
Under pytest-xdist the controller makes the one template and its workers copy it
(:func:`template_handoff`, :func:`adopt_template`); only the controller removes it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from harness.errors import ProviderError
from harness.files import write_once
from harness.net import free_port
from harness.postgres.account import service_account as _service_account
from harness.postgres.binaries import find_bindir, pg_free_env
from harness.postgres.database import Database
from harness.postgres.process import (
    DIR_PREFIX,
    OWNER_FILE,
    hand_over,
    kill_postmaster,
    remove_tree,
    signal_stop,
    spawn_server,
    sweep_stale_clusters,
    wait_ready,
)
from harness.postgres.providers import DatabaseRole, ThrowawayServer

SUPERUSER = "postgres"

# Settings for throwaway drill clusters: durability off, generous memory.
FAST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "256MB",
    "maintenance_work_mem": "256MB",
    "work_mem": "64MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "autovacuum": "off",
    "timezone": "UTC",
    "log_min_messages": "warning",
}


def _quote_setting(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# --------------------------------------------------------------------------- embedded cluster


class EmbeddedCluster:
    """A throwaway PostgreSQL cluster. Use :func:`embedded_postgres` rather than this directly."""

    def __init__(
        self,
        bindir: Path,
        settings: Mapping[str, str] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.bindir = bindir
        self.settings = {**FAST_SETTINGS, **(settings or {})}
        self.account = _service_account()
        self.password = secrets.token_urlsafe(24)
        self.base = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base_dir))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = 0
        self.version = ""
        self.running = False
        self.server: subprocess.Popen[bytes] | None = None  # the postmaster, when started here
        self.env: dict[str, str] = {}  # extra environment for the server (e.g. its restore_command's)

    # -- process helpers
    def _run(self, args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.account:
            kwargs.update(user=self.account[0], group=self.account[1], extra_groups=[])
        env = pg_free_env(LC_ALL="C", **self.env)
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=self.base,
            check=False,
            **kwargs,
        )

    def _chown(self, path: Path) -> None:
        if self.account:
            os.chown(path, *self.account)

    def claim(self) -> None:
        """Record this process as the owner (for the stale sweep) and hand the base to the server account."""
        (self.base / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
        self._chown(self.base)
        os.chmod(self.base, 0o700)

    def initdb(self) -> None:
        """A fresh data directory: a copy of this process's template (made by initdb once)."""
        template = _template(self.bindir, self.account)
        self.claim()
        shutil.copytree(template.data, self.data, symlinks=True)
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        self.hand_over_data()
        self.password, self.version = template.password, template.version

    def hand_over_data(self) -> None:
        """Give the data directory the server needs: owned by the server account, private (0700)."""
        hand_over(self.data, self.account)
        os.chmod(self.data, 0o700)

    def run_initdb(self) -> None:
        """Run initdb into this cluster's data directory (the template's way; see :meth:`initdb`)."""
        self.claim()
        pwfile = self.base / "pwfile"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(self.password + "\n")
        self._chown(pwfile)
        try:
            out = self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    SUPERUSER,
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if out.returncode != 0:
            raise ProviderError(f"initdb failed in {self.data}: {out.stderr.strip() or out.stdout.strip()}")
        version = self._run([str(self.bindir / "postgres"), "--version"])
        self.version = version.stdout.strip()

    def _write_settings(self) -> None:
        lines = [f"{key} = {_quote_setting(str(value))}" for key, value in self.settings.items()]
        lines += [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = {_quote_setting(str(self.base))}",
        ]
        conf = self.data / "postgresql.auto.conf"
        conf.write_text("# written by drill-harness\n" + "\n".join(lines) + "\n")
        self._chown(conf)

    def start(self, attempts: int = 5) -> None:
        """Start the server on a free port and wait (polling its pid file every few milliseconds)
        until it accepts connections; a port taken meanwhile is retried on another."""
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            self._write_settings()
            self.server = spawn_server(self, self.log, pg_free_env(LC_ALL="C", **self.env))
            if wait_ready(self.data, self.server, timeout=60):
                self.running = True
                return
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if ("could not bind" in log or "Address already in use" in log) and attempt < attempts:
                continue
            tail = "\n".join(log.strip().splitlines()[-8:])
            raise ProviderError(
                f"embedded PostgreSQL did not start (port {self.port}, exit {self.server.returncode})\n{tail}"
            )

    def stop(self, *, discard: bool = False) -> None:
        """Shut the server down: ``fast`` (a shutdown checkpoint), then ``immediate``, then SIGKILL.
        ``discard``: the data directory is removed next, so go straight to ``immediate`` (no
        checkpoint nobody will read)."""
        if not self.running and not (self.data / "postmaster.pid").exists():
            return
        modes = (signal.SIGQUIT,) if discard else (signal.SIGINT, signal.SIGQUIT)
        if not any(signal_stop(self.data, sig, timeout=30) for sig in modes):
            self._pg_ctl_stop()
        if self.server is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.server.wait(timeout=5)  # reap it (it exited: its pid file said so)
        self.running = False

    def _pg_ctl_stop(self) -> None:
        """``pg_ctl stop`` for a server this process did not start (the pid file names another
        command line); SIGKILL when it will not stop."""
        pg_ctl = str(self.bindir / "pg_ctl")
        for mode in ("fast", "immediate"):
            out = self._run([pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"], timeout=60)
            if out.returncode == 0 or "Is server running?" in out.stderr:
                return
        kill_postmaster(self.data)

    def remove(self, *, detached: bool = False) -> None:
        remove_tree(self.base, detached=detached)  # detached: off the caller's path

    @contextlib.contextmanager
    def lifetime(self) -> Iterator[Self]:
        """Yield the cluster; on exit (failure and Ctrl-C too) stop it and remove its files."""
        try:
            yield self
        finally:
            try:
                self.stop(discard=True)
            finally:
                self.remove(detached=not self.running)

    def database(self, dbname: str = "postgres") -> Database:
        return Database(
            host="127.0.0.1",
            port=self.port,
            dbname=dbname,
            user=SUPERUSER,
            password=self.password,
            provider="embedded",
            environment="scratch",
        )


@dataclass(frozen=True)
class _Template:
    data: Path
    password: str
    version: str
    owned: bool = True  # made here, removed at exit; False: the xdist controller's (it removes it)


_Key = tuple[str, tuple[int, int] | None]
_TEMPLATES: dict[_Key, _Template] = {}
_MAKING: dict[_Key, threading.Thread] = {}
_PREWARMED: dict[_Key, tuple[Path, str]] = {}  # base and password of each template prewarmed here
_LOCK = threading.Lock()
#: Written into a template's base once initdb finished (its server version): what a worker waits for.
READY_FILE = "drill-template.json"


def _template(bindir: Path, account: tuple[int, int] | None) -> _Template:
    """This process's initdb'd data directory for ``bindir``, made on first use (or by
    :func:`prewarm_template`, or the xdist controller's: :func:`adopt_template`), removed at exit."""
    key = (str(bindir), account)
    with _LOCK:
        making = _MAKING.pop(key, None)
    if making is not None:
        making.join()  # a failed prewarm left nothing: made again below, so its error is raised here
    found = _TEMPLATES.get(key)
    if found is not None and (found.data / "PG_VERSION").is_file():
        return found
    return _make_template(key, bindir)


def _make_template(key: _Key, bindir: Path, maker: EmbeddedCluster | None = None) -> _Template:
    maker = maker or EmbeddedCluster(bindir)
    try:
        maker.run_initdb()
        write_once(maker.base / READY_FILE, json.dumps({"version": maker.version}).encode(), mode=0o600)
    except BaseException:
        maker.remove()
        raise
    made = _TEMPLATES[key] = _Template(maker.data, maker.password, maker.version)
    return made


@atexit.register
def _remove_templates() -> None:
    """At exit: let a prewarm that is still running finish, then remove every template made here."""
    with _LOCK:
        making = list(_MAKING.values())
    for thread in making:
        thread.join(timeout=120)
    for template in list(_TEMPLATES.values()):
        if template.owned:
            remove_tree(template.data.parent, detached=True)


def prewarm_template(bindir: str | os.PathLike[str] | None = None) -> None:
    """Start making this process's template in a background thread, so initdb (about a second)
    overlaps whatever comes before the first cluster (imports, collection, xdist workers starting:
    :func:`template_handoff`). Best effort: any error is left for the first cluster to raise."""
    try:
        resolved = find_bindir(bindir)
        key = (str(resolved), _service_account())
    except (ProviderError, OSError):
        return
    with _LOCK:
        if key in _MAKING or key in _TEMPLATES:
            return
        try:
            maker = EmbeddedCluster(resolved)  # its directory now, so workers can be told where
        except OSError:
            return
        _PREWARMED[key] = (maker.base, maker.password)

        def make() -> None:
            try:
                _make_template(key, resolved, maker)
            except Exception:  # the first cluster makes it again and raises its error
                with _LOCK:
                    _PREWARMED.pop(key, None)

        thread = _MAKING[key] = threading.Thread(target=make, name="drill-pg-template", daemon=True)
        thread.start()


def template_handoff() -> list[dict[str, str]]:
    """The templates this process prewarmed, for xdist workers (:func:`adopt_template`): binaries,
    directory and superuser password (carried by the xdist channel, never written anywhere)."""
    with _LOCK:
        return [
            {"bindir": key[0], "base": str(base), "password": password}
            for key, (base, password) in _PREWARMED.items()
        ]


def adopt_template(handoff: object, limit: float = 300) -> bool:
    """An xdist worker: copy the controller's templates (``handoff`` from :func:`template_handoff`),
    waiting in a thread until one is marked ready; if the controller's initdb failed (its directory
    gone) or took over ``limit`` seconds, make its own. False when ``handoff`` has another shape."""
    if not isinstance(handoff, list) or not handoff:
        return False
    entries = []
    for entry in handoff:
        if not (isinstance(entry, dict) and set(entry) == {"bindir", "base", "password"}):
            return False
        if not all(isinstance(v, str) and v for v in entry.values()):
            return False
        base = Path(entry["base"])
        if not (base.is_absolute() and base.name.startswith(DIR_PREFIX)):
            return False
        entries.append((Path(entry["bindir"]), base, entry["password"]))
    account = _service_account()
    for bindir, base, password in entries:
        key = (str(bindir), account)
        with _LOCK:
            if key in _MAKING or key in _TEMPLATES:
                continue
            thread = threading.Thread(
                target=_await_template,
                args=(key, bindir, base, password, limit),
                name="drill-pg-template",
                daemon=True,
            )
            _MAKING[key] = thread
            thread.start()
    return True


def _await_template(key: _Key, bindir: Path, base: Path, password: str, limit: float) -> None:
    deadline = time.monotonic() + limit
    ready = base / READY_FILE
    while time.monotonic() < deadline and base.is_dir():
        if ready.is_file():
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                version = json.loads(ready.read_text())["version"]
                if isinstance(version, str) and (base / "data" / "PG_VERSION").is_file():
                    _TEMPLATES[key] = _Template(base / "data", password, version, owned=False)
                    return
            break
        time.sleep(0.005)
    with contextlib.suppress(Exception):  # the controller's failed: this process's own
        _make_template(key, bindir)


@contextlib.contextmanager
def embedded_postgres(
    bindir: str | os.PathLike[str] | None = None,
    settings: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    prepare: Callable[[EmbeddedCluster], None] | None = None,
) -> Iterator[EmbeddedCluster]:
    """Start a throwaway cluster (``prepare`` may adjust it before initdb); always stop and remove it
    on exit, including on Ctrl-C."""
    resolved = find_bindir(bindir)
    sweep_stale_clusters(base_dir)
    with EmbeddedCluster(resolved, settings, base_dir).lifetime() as cluster:
        if prepare is not None:
            prepare(cluster)
        cluster.initdb()
        cluster.start()
        yield cluster


class EmbeddedProvider(ThrowawayServer):
    """The ``embedded`` provider: one throwaway cluster per lane (the source's ``bindir`` picks the
    binaries), started on first use and stopped with the lane's exit stack."""

    def __init__(self, stack: contextlib.ExitStack, source: DatabaseRole) -> None:
        self._stack, self._bindir = stack, source.bindir
        self.active: EmbeddedCluster | None = None

    def cluster(self) -> EmbeddedCluster:
        if self.active is None:
            self.active = self._stack.enter_context(embedded_postgres(self._bindir))
        return self.active

    def admin(self, role: str = "source") -> Database:
        return self.cluster().database()
