"""A cluster restored from a backup the harness did not make (a pgBackRest repository, a team's own
base backup), recovering in a scratch directory.

Nothing of the backup's own configuration is used: ``postgresql.conf``, ``postgresql.auto.conf``,
``pg_hba.conf`` and ``pg_ident.conf`` are set aside (``*.from-backup``) and replaced. The server
listens on no TCP port, only on a socket in its private 0700 directory, with ``trust`` there (the
harness knows no password of the restored roles; only the server's own OS account and root can
reach that directory); archiving is off, so the copy can never write into the production archive.
Settings hot standby needs at least as large as on the primary (max_connections, ...) are read
from ``pg_controldata``. The server binaries must be of the backup's major (``PG_VERSION``).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.errors import ProviderError
from harness.postgres.binaries import major_hint, pg_free_env, server_major
from harness.postgres.database import Database
from harness.postgres.process import hand_over, run_tool
from harness.postgres.recovery import RestoredCluster

#: The backup's own configuration files, set aside and replaced.
OWN_CONFIG = ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf")
#: Runtime files that must not come along (a plain copy of a running server's directory has them).
RUNTIME_FILES = ("postmaster.pid", "postmaster.opts", "standby.signal", "backup_manifest")
#: pg_controldata line -> setting; all but the segment size must be at least the primary's for hot standby.
_CONTROL_VALUES = {
    "Bytes per WAL segment": "wal_segment_size",
    "max_connections setting": "max_connections",
    "max_worker_processes setting": "max_worker_processes",
    "max_wal_senders setting": "max_wal_senders",
    "max_prepared_xacts setting": "max_prepared_transactions",
    "max_locks_per_xact setting": "max_locks_per_transaction",
}
_CONTROL_LINE = re.compile(r"^([A-Za-z_' ]+):[ \t]+(\d+)$", re.M)
_DEFAULTS = {
    "max_connections": 100,
    "max_worker_processes": 8,
    "max_wal_senders": 10,
    "max_prepared_transactions": 0,
    "max_locks_per_transaction": 64,
}


def data_major(data: Path) -> str:
    """``PG_VERSION`` of a data directory or base backup (``15``)."""
    try:
        text = (data / "PG_VERSION").read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        raise ProviderError(
            f"{data}: no PG_VERSION; not a PostgreSQL data directory or base backup"
        ) from None
    if not re.fullmatch(r"\d{1,3}", text):
        raise ProviderError(f"{data}/PG_VERSION is not a major version number ({len(text)} chars)")
    return text


def check_major(data: Path, bindir: Path) -> str:
    """Refuse server binaries of another major than the backup's (ProviderError naming both)."""
    major, have = data_major(data), server_major(bindir)
    if have != major:
        raise ProviderError(
            f"the backup is PostgreSQL {major} but {bindir} holds PostgreSQL {have or '?'}; never "
            f"restoring with another major: {major_hint(major)}"
        )
    return major


class ForeignCluster(RestoredCluster):
    """A restored data directory under this cluster's base; see the module docstring."""

    def __init__(
        self,
        bindir: Path,
        settings: Mapping[str, str],
        base_dir: str | os.PathLike[str] | None = None,
        user: str = "postgres",
    ) -> None:
        super().__init__(bindir, "", settings, base_dir)
        self.user = user
        self.controls: dict[str, int] = {}
        self.prepared = False

    def prepare_data(self) -> None:
        """Own configuration in place of the backup's, runtime files removed, ownership handed over
        (once: a second call changes nothing)."""
        if self.prepared:
            return
        check_major(self.data, self.bindir)
        for name in OWN_CONFIG:
            path = self.data / name
            if path.is_symlink() or path.exists():
                path.rename(self.data / f"{name}.from-backup")
        for name in RUNTIME_FILES:
            (self.data / name).unlink(missing_ok=True)
        (self.data / "postgresql.conf").write_text("# drill-harness: settings in postgresql.auto.conf\n")
        (self.data / "pg_hba.conf").write_text(
            "# drill-harness: the private socket only\nlocal all all trust\n"
        )
        (self.data / "pg_ident.conf").write_text("")
        (self.data / "recovery.signal").touch()
        hand_over(self.data, self.account)
        os.chmod(self.data, 0o700)
        self.controls = self._control_minimums()
        for setting, default in _DEFAULTS.items():
            self.settings[setting] = str(max(default, self.controls.get(setting, 0)))
        self.prepared = True

    def _control_minimums(self) -> dict[str, int]:
        out = run_tool(self, "pg_controldata", [str(self.data)], env=pg_free_env(LC_ALL="C"))
        if out.returncode != 0:
            detail = (out.stderr.strip() or out.stdout.strip()).splitlines()[:1]
            raise ProviderError(f"pg_controldata cannot read the restored {self.data}: {detail}")
        values = {key.strip(): int(value) for key, value in _CONTROL_LINE.findall(out.stdout)}
        return {setting: values[line] for line, setting in _CONTROL_VALUES.items() if line in values}

    def _write_settings(self) -> None:
        super()._write_settings()
        conf = self.data / "postgresql.auto.conf"
        with conf.open("a") as fh:
            fh.write("listen_addresses = ''\n")  # the later line wins: no TCP listener at all

    def database(self, dbname: str = "postgres") -> Database:
        return Database(
            host=str(self.base),  # the private socket directory
            port=self.port,
            dbname=dbname,
            user=self.user,
            password=None,
            provider="embedded",
            environment="scratch",
        )

    def describe(self) -> dict[str, Any]:
        return {"bindir": str(self.bindir), "data": str(self.data.resolve()), "controls": self.controls}


@contextlib.contextmanager
def foreign_cluster(
    bindir: Path,
    settings: Mapping[str, str],
    *,
    user: str = "postgres",
    base_dir: str | os.PathLike[str] | None = None,
) -> Iterator[ForeignCluster]:
    """A fresh, empty scratch cluster directory (owned by the server account) whose data directory a
    restore fills; stopped and removed on exit, also on failure."""
    with ForeignCluster(bindir, settings, base_dir, user).lifetime() as cluster:
        cluster.claim()
        cluster.data.mkdir(mode=0o700)
        if cluster.account:
            os.chown(cluster.data, *cluster.account)
        yield cluster
