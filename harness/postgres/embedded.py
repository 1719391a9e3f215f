"""PostgreSQL providers: an embedded throwaway cluster, or an external DSN.

The embedded provider initialises a fresh cluster from local server binaries,
listens on a free 127.0.0.1 port with a private socket directory, uses
SCRAM authentication with a random password that lives only in memory, and is
torn down in ``finally`` (also on Ctrl-C). As root it runs the server as the
unprivileged ``postgres`` OS user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import psycopg
from psycopg import conninfo as pg_conninfo

from harness.errors import ConfigError, ProviderError
from harness.postgres.process import DIR_PREFIX, OWNER_FILE, kill_postmaster, sweep_stale_clusters

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
APT_HINT = (
    "install the server binaries with `apt-get install postgresql` (Debian/Ubuntu package "
    "`postgresql`, e.g. `postgresql-15`), or point DRILL_PG_BINDIR / the scenario's "
    "`postgres.bindir` at a directory holding initdb, pg_ctl and postgres"
)
SERVICE_USER = "postgres"
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
            raise ProviderError(f"cannot connect to {self.label}: {_first_line(exc)}") from None
        conn.execute("SET TIME ZONE 'UTC'")
        if not autocommit:
            conn.commit()
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
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user, PGDATABASE=self.dbname)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- binaries


def find_bindir(configured: str | os.PathLike[str] | None = None) -> Path:
    """Locate PostgreSQL server binaries; raise a ProviderError naming the package if absent."""
    candidates: list[tuple[str, Path]] = []
    if configured:
        candidates.append(("configured postgres.bindir", Path(configured)))
    if os.environ.get("DRILL_PG_BINDIR"):
        candidates.append(("DRILL_PG_BINDIR", Path(os.environ["DRILL_PG_BINDIR"])))
    if configured or os.environ.get("DRILL_PG_BINDIR"):
        source, path = candidates[0]
        if not all((path / b).is_file() for b in SERVER_BINARIES):
            raise ProviderError(f"{source}={path} does not contain {', '.join(SERVER_BINARIES)}; {APT_HINT}")
        return path
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(("pg_config --bindir", Path(out.stdout.strip())))
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: int(re.sub(r"\D", "", Path(p).parent.name) or 0), reverse=True)
    candidates.extend(("/usr/lib/postgresql", Path(p)) for p in versioned)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(("PATH", Path(on_path).parent))
    for _source, path in candidates:
        if all((path / b).is_file() for b in SERVER_BINARIES):
            return path
    looked = ", ".join(str(p) for _, p in candidates) or "pg_config, /usr/lib/postgresql/*/bin, PATH"
    raise ProviderError(f"PostgreSQL server binaries not found (looked in: {looked}); {APT_HINT}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_account() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        nologin = "/usr/sbin/nologin" if os.path.exists("/usr/sbin/nologin") else "/bin/false"
        try:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", "--shell", nologin, SERVICE_USER],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            raise ProviderError(
                f"running as root and the unprivileged `{SERVICE_USER}` OS user is missing; "
                f"creating it failed: {detail}"
            ) from None
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


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

    # -- process helpers
    def _run(self, args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self.account:
            kwargs.update(user=self.account[0], group=self.account[1], extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
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
        for attempt in range(1, attempts + 1):
            self.port = _free_port()
            self._write_settings()
            out = self._run(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
            if out.returncode == 0:
                self.running = True
                return
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if ("could not bind" in log or "Address already in use" in log) and attempt < attempts:
                continue
            tail = "\n".join(log.strip().splitlines()[-8:])
            raise ProviderError(
                f"embedded PostgreSQL did not start (port {self.port}): {out.stderr.strip()}\n{tail}"
            )

    def stop(self) -> None:
        if not self.running and not (self.data / "postmaster.pid").exists():
            return
        pg_ctl = str(self.bindir / "pg_ctl")
        for mode in ("fast", "immediate"):
            out = self._run([pg_ctl, "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"], timeout=60)
            if out.returncode == 0 or "Is server running?" in out.stderr:
                self.running = False
                return
        kill_postmaster(self.data)
        self.running = False

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    @contextlib.contextmanager
    def lifetime(self) -> Iterator[Self]:
        """Yield the cluster; on exit (failure and Ctrl-C too) stop it and remove its files."""
        try:
            yield self
        finally:
            try:
                self.stop()
            finally:
                self.remove()

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


def external_database(dsn: str, *, environment: str | None, source: str) -> Database:
    """A database given by DSN. ``source`` names where the DSN came from, for error messages."""
    try:
        params = pg_conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"{source}: not a valid PostgreSQL DSN ({_first_line(exc)})") from None
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
