"""Recovery capabilities on top of the embedded cluster: WAL archiving, base backups,
starting a cluster from a base backup recovering to a target time, and killing a server.

Everything a recovery needs lives under the source cluster's base directory (the WAL
archive and the base backup) or under the restored cluster's own base directory, so
both are removed when their context managers exit, also on failure. As root, the
tools that write data directories (``pg_basebackup``) or read them
(``pg_verifybackup``) run as the same unprivileged account as the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from harness.clock import utc_iso
from harness.errors import ConfigError, ProviderError, VerificationFailed
from harness.postgres.binaries import pg_free_env
from harness.postgres.database import Database
from harness.postgres.embedded import EmbeddedCluster, embedded_postgres
from harness.postgres.process import postmaster_alive, run_tool

ARCHIVE_DIR = "wal-archive"
BACKUP_DIR = "base-backup"
SEGMENT = re.compile(r"[0-9A-F]{24}")
#: A file the archive_command stores: a segment, a ``.partial`` segment, a backup history file
#: (``<segment>.<offset>.backup``) or a timeline history file (``<timeline>.history``).
WAL_FILE = re.compile(r"[0-9A-F]{24}(?:\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history")
_LABEL_WAL = re.compile(r"^START WAL LOCATION: .*\(file ([0-9A-F]{24})\)", re.M)
_LABEL_TIME = re.compile(r"^START TIME: (.+)$", re.M)
_RESTORED = re.compile(r'restored log file "([0-9A-F]{24})" from archive')
# cp's "No such file", pgBackRest archive-get's "unable to find <segment> in the archive"
_NOT_FOUND = re.compile(r"([0-9A-F]{24})'?:? No such file|unable to find ([0-9A-F]{24}) in the archive")


def quoted_path(path: Path) -> str:
    """A path for archive_command/restore_command: shell-quoted, ``%`` escaped."""
    return shlex.quote(str(path)).replace("%", "%%")


def archive_settings(archive: Path) -> dict[str, str]:
    """Server settings for WAL archiving into ``archive`` (copy to a temp name, then rename)."""
    to = quoted_path(archive)
    return {
        "wal_level": "replica",
        "archive_mode": "on",
        "archive_command": f"test ! -f {to}/%f && cp %p {to}/%f.tmp && mv {to}/%f.tmp {to}/%f",
        "max_wal_senders": "4",
        "full_page_writes": "on",
        "synchronous_commit": "on",
        "log_timezone": "UTC",
    }


def recovery_settings(archive: Path, target: datetime | None) -> dict[str, str]:
    """Settings that make a server restored from a base backup replay archived WAL (copied from the
    directory ``archive``) up to ``target``."""
    return {"max_wal_senders": "4", **target_settings(f"cp {quoted_path(archive)}/%f %p", target)}


def target_settings(restore_command: str, target: datetime | None) -> dict[str, str]:
    """Recovery through ``restore_command`` up to ``target`` (None: to the end of the archive), then
    promote; archiving off, so a restored copy never writes into anyone's archive."""
    settings = {
        "wal_level": "replica",
        "archive_mode": "off",
        "log_timezone": "UTC",
        "hot_standby": "on",
        "restore_command": restore_command,
        "recovery_target_action": "promote",
    }
    if target is not None:
        settings["recovery_target_time"] = format_target(target)
    return settings


def format_target(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


@contextlib.contextmanager
def archiving_postgres(
    bindir: str | os.PathLike[str] | None = None, base_dir: str | os.PathLike[str] | None = None
) -> Iterator[EmbeddedCluster]:
    """A throwaway cluster that archives every WAL segment into ``<base>/wal-archive``."""

    def archive_into(cluster: EmbeddedCluster) -> None:
        archive = wal_archive(cluster)
        archive.mkdir()
        if cluster.account:
            os.chown(archive, *cluster.account)
        cluster.settings.update(archive_settings(archive))

    with embedded_postgres(bindir, base_dir=base_dir, prepare=archive_into) as cluster:
        yield cluster


def wal_archive(cluster: EmbeddedCluster) -> Path:
    return cluster.base / ARCHIVE_DIR


# --------------------------------------------------------------------------- base backups


@dataclass(frozen=True)
class BaseBackup:
    path: Path
    started_at: datetime  # server clock just before pg_basebackup connected
    finished_at: datetime  # server clock just after it returned: the latest possible consistent point
    start_wal: str  # segment holding the backup's start checkpoint (backup_label)
    label_start_time: str  # START TIME as written in backup_label
    size_bytes: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "started_at": utc_iso(self.started_at, micro=True),
            "finished_at": utc_iso(self.finished_at, micro=True),
            "start_wal": self.start_wal,
            "label_start_time": self.label_start_time,
            "size_bytes": self.size_bytes,
            "seconds": round(self.seconds, 3),
        }


def server_now(db: Database) -> datetime:
    with db.connect(autocommit=True) as conn:
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    value: datetime = row[0]
    return value.astimezone(UTC)


def take_base_backup(cluster: EmbeddedCluster, dest: Path | None = None, label: str = "drill") -> BaseBackup:
    """``pg_basebackup`` (plain format, WAL streamed, fast checkpoint, with manifest) of ``cluster``."""
    dest = dest or cluster.base / BACKUP_DIR
    db = cluster.database()
    started_at, clock = server_now(db), time.perf_counter()
    out = run_tool(
        cluster,
        "pg_basebackup",
        ["-D", str(dest), "-Fp", "-X", "stream", "-c", "fast", "-l", label, "--no-sync"],
        env=db.tool_env(),
    )
    if out.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        raise ProviderError(f"pg_basebackup failed: {out.stderr.strip() or out.stdout.strip()}")
    seconds = time.perf_counter() - clock
    finished_at = server_now(db)
    start_wal, label_time = read_backup_label(dest)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    return BaseBackup(dest, started_at, finished_at, start_wal, label_time, size, seconds)


def read_backup_label(backup: Path) -> tuple[str, str]:
    """(start WAL segment, START TIME) from a plain base backup's ``backup_label``."""
    try:
        text = (backup / "backup_label").read_text(errors="replace")
    except OSError as exc:
        raise ProviderError(f"{backup}: cannot read backup_label ({exc.strerror})") from None
    return parse_backup_label(text[:65536], f"{backup}/backup_label")


def parse_backup_label(text: str, where: str) -> tuple[str, str]:
    """(start WAL segment, START TIME) from the text of a ``backup_label``."""
    wal, when = _LABEL_WAL.search(text), _LABEL_TIME.search(text)
    if wal is None or when is None:
        raise ProviderError(f"{where} lacks START WAL LOCATION or START TIME")
    return wal.group(1), when.group(1)[:64]


def label_time(value: str, where: str) -> datetime:
    """A ``backup_label`` START TIME (``2026-12-01 10:14:06 UTC``, or a numeric offset) in UTC; a
    zone abbreviation other than UTC/GMT is ambiguous and refused."""
    stamp, _, zone = value.strip().rpartition(" ")
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ProviderError(f"{where}: START TIME is not a time like 2026-12-01 10:14:06 UTC") from None
    if zone in ("UTC", "GMT", "Z"):
        return moment.replace(tzinfo=UTC)
    offset = re.fullmatch(r"([+-])(\d\d):?(\d\d)?", zone)
    if offset is None:
        raise ProviderError(
            f"{where}: START TIME is in zone {zone[:8]!r}, which is ambiguous; set log_timezone = 'UTC' on "
            "the server that takes the backups"
        )
    sign = 1 if offset.group(1) == "+" else -1
    delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
    return (moment - sign * delta).replace(tzinfo=UTC)


def verify_base_backup(cluster: EmbeddedCluster, backup: BaseBackup) -> str:
    """``pg_verifybackup``: every file against ``backup_manifest``, and the WAL it needs."""
    out = run_tool(cluster, "pg_verifybackup", [str(backup.path)], env=pg_free_env())
    if out.returncode != 0:
        detail = "; ".join((out.stderr.strip() or out.stdout.strip()).splitlines()[:5])
        raise VerificationFailed(f"pg_verifybackup rejected the base backup: {detail}")
    return out.stdout.strip() or "backup successfully verified"


# --------------------------------------------------------------------------- WAL archive


def switch_and_archive(cluster: EmbeddedCluster, db: Database, timeout: float = 60) -> str:
    """Close the current WAL segment and wait until the archiver has stored it; return its name."""
    archive = wal_archive(cluster)
    with db.connect(autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        segment = str(row[0])
        deadline = time.monotonic() + timeout
        while not (archive / segment).exists():
            stat = conn.execute("SELECT failed_count, last_failed_wal FROM pg_stat_archiver").fetchone()
            if time.monotonic() > deadline:
                failed = f"; archiver failures: {stat[0]} (last {stat[1]})" if stat and stat[0] else ""
                raise ProviderError(f"WAL segment {segment} was not archived within {timeout:.0f}s{failed}")
            time.sleep(0.01)
    return segment


def archived_files(archive: Path) -> list[Path]:
    """Every completed file in a WAL archive (segments, backup and timeline history files), by name;
    the archive_command's in-flight ``.tmp`` copies are left out."""
    return sorted(
        (p for p in archive.iterdir() if p.is_file() and WAL_FILE.fullmatch(p.name)), key=lambda p: p.name
    )


def system_identifier(db: Database) -> str:
    """The cluster's system identifier (pg_control): the same in its base backups and WAL."""
    with db.connect(autocommit=True) as conn:
        row = conn.execute("SELECT system_identifier::text FROM pg_control_system()").fetchone()
    assert row is not None
    return str(row[0])


def current_segment(db: Database) -> str:
    with db.connect(autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()
    assert row is not None
    return str(row[0])


def segment_size(db: Database) -> int:
    with db.connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'"
        ).fetchone()
    assert row is not None
    return int(row[0])


def segment_range(first: str, last: str, size: int) -> list[str]:
    """Segment names from ``first`` to ``last`` inclusive on ``first``'s timeline."""
    per = 0x1_0000_0000 // size

    def number(name: str) -> int:
        return int(name[8:16], 16) * per + int(name[16:24], 16)

    tli = first[:8]
    return [f"{tli}{n // per:08X}{n % per:08X}" for n in range(number(first), number(last) + 1)]


def check_target(backup: BaseBackup, target: datetime) -> None:
    """PostgreSQL accepts a target before the backup and silently stops at the backup: refuse it."""
    if target < backup.finished_at:
        raise ConfigError(
            f"recovery target {format_target(target)} is before the base backup completed "
            f"(started {format_target(backup.started_at)}, finished {format_target(backup.finished_at)}): "
            "a base backup can only be rolled forward; choose a later target or an older backup"
        )


def preflight(
    backup: BaseBackup,
    archive: Path,
    target: datetime,
    *,
    target_segment: str,
    size: int,
    where: str | None = None,
) -> list[str]:
    """Refuse a recovery that cannot work: a target before the backup, or a gap in the WAL.

    Returns the segments recovery will read; raises ConfigError for the target and
    VerificationFailed naming the first segment missing from both the archive and the
    backup's own ``pg_wal`` (``where`` describes the archive in that message; default: its path).
    """
    check_target(backup, target)
    needed = segment_range(backup.start_wal, target_segment, size)
    have = {p.name for p in archive.iterdir()} | {p.name for p in (backup.path / "pg_wal").iterdir()}
    missing = [s for s in needed if s not in have]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise VerificationFailed(
            f"WAL segment {missing[0]}{more} is missing from the archive {where or archive}: recovery "
            f"from the base backup (starting at {backup.start_wal}) to the target (in {target_segment}) "
            "needs every segment in between"
        )
    return needed


# --------------------------------------------------------------------------- restored cluster


class RestoredCluster(EmbeddedCluster):
    """A cluster whose data directory is a copy of a base backup, recovering to a target time.

    It keeps the source's superuser password (the backup carries its SCRAM verifier).
    """

    def __init__(
        self,
        bindir: Path,
        password: str,
        settings: Mapping[str, str],
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(bindir, settings, base_dir)
        self.password = password

    def restore_files(self, backup: Path, *, move: bool = False) -> None:
        """Copy the base backup into a fresh data directory (``move``: a throwaway copy, moved into
        place instead) and request recovery."""
        self.claim()
        if move:
            shutil.move(backup, self.data)  # a rename on the same file system
        else:
            shutil.copytree(backup, self.data, symlinks=True)
        (self.data / "backup_manifest").unlink(missing_ok=True)
        (self.data / "recovery.signal").touch()
        self.hand_over_data()

    def recover(self, timeout: float = 600) -> None:
        """Start, wait until recovery reached the target and the server was promoted."""
        try:
            self.start()
        except ProviderError as exc:
            raise self._failure(str(exc)) from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.database().connect(autocommit=True, connect_timeout=5) as conn:
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and row[0] is False:
                    return
            except (ProviderError, psycopg.OperationalError):  # not yet accepting, or shutting down
                if not postmaster_alive(self.data):
                    self.running = False
                    raise self._failure() from None
            if time.monotonic() > deadline:
                raise ProviderError(f"recovery did not finish within {timeout:.0f}s; see {self.log}")
            time.sleep(0.02)

    def restored_from_archive(self) -> list[str]:
        """The WAL segments the server's restore_command delivered, in order (from its log)."""
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        return list(dict.fromkeys(_RESTORED.findall(log)))  # the last one is read again at promotion

    def _failure(self, context: str = "") -> Exception:
        """Turn the server log of a failed recovery into a clear error."""
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        fatal = [line for line in log.splitlines() if "FATAL:" in line or "PANIC:" in line]
        target = self.settings.get("recovery_target_time", "the end of the archive")
        if "recovery ended before configured recovery target was reached" in log:
            missing = [cp or br for cp, br in _NOT_FOUND.findall(log)]
            restored = _RESTORED.findall(log)
            segment = missing[-1] if missing else None
            last = f" (last restored: {restored[-1]})" if restored else " (none could be restored)"
            what = f"WAL segment {segment} is missing from the archive" if segment else "WAL is missing"
            return VerificationFailed(
                f"recovery ran out of archived WAL before reaching the target {target}: {what}{last}"
            )
        if "requested recovery stop point is before consistent recovery point" in log:
            return ConfigError(
                f"recovery target {target} is before the base backup's consistent point: "
                "a base backup can only be rolled forward; choose a later target or an older backup"
            )
        detail = fatal[-1].split("FATAL:", 1)[-1].strip() if fatal else "\n".join(log.splitlines()[-5:])
        detail = detail or context or f"no server log at {self.log}"
        return ProviderError(f"the restored server failed during recovery: {detail}")


@contextlib.contextmanager
def restored_postgres(
    source: EmbeddedCluster,
    backup: BaseBackup,
    target: datetime,
    *,
    archive: Path | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    timeout: float = 600,
    move: bool = False,
) -> Iterator[RestoredCluster]:
    """Restore ``backup`` into a fresh data directory and recover to ``target``; always cleaned up.
    ``move``: the backup is a throwaway copy (e.g. fetched from S3) that becomes the data directory."""
    check_target(backup, target)
    settings = recovery_settings(archive or wal_archive(source), target)
    with RestoredCluster(source.bindir, source.password, settings, base_dir).lifetime() as cluster:
        cluster.restore_files(backup.path, move=move)
        cluster.recover(timeout)
        yield cluster
