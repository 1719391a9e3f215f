"""A pgBackRest repository, read-only: its backups (``info``), its WAL archive (``repo-ls``), and a
restore into a scratch data directory with pgBackRest itself (``restore --type=time|default``).

Only commands that read the repository are run: ``info``, ``repo-ls``, ``restore`` and (inside the
restored server's restore_command) ``archive-get``. Lock, log and spool paths point into the drill's
scratch directory, ``pg1-path`` at the scratch data directory and ``pg1-host`` is reset, whatever
the team's configuration says; the restored server archives nothing. As root, pgBackRest runs as
the server's OS account (the repository's owner on a posix repository). The JSON ``info`` prints
is checked field by field: an element of unexpected shape is an error, never a default.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.clock import utc_iso
from harness.errors import ConfigError, ProviderError, VerificationFailed
from harness.postgres.binaries import pg_free_env
from harness.postgres.recovery import SEGMENT, format_target

APT_PACKAGE = "pgbackrest"
_LABEL = re.compile(r"\d{8}-\d{6}F(?:_\d{8}-\d{6}[DI])?")
_ARCHIVE_ID = re.compile(r"\d{1,3}-\d{1,9}")
_WAL_OBJECT = re.compile(r"([0-9A-F]{24})-[0-9a-f]{40}(?:\.(?:gz|lz4|zst|bz2|xz))?")
#: Commands that accept ``--repo`` (stanza-create, check and archive-push refuse it).
_TAKES_REPO = ("info", "restore", "repo-ls", "archive-get", "verify", "backup")
_STANZA = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def pgbackrest_binary() -> str:
    """The ``pgbackrest`` executable, or a ProviderError naming the package to install."""
    found = shutil.which("pgbackrest")
    if found is None:
        raise ProviderError(
            "pgbackrest is not installed: `apt-get install pgbackrest` (Debian/Ubuntu package "
            f"`{APT_PACKAGE}`), or put it on PATH"
        )
    return found


def pgbackrest_env() -> dict[str, str]:
    """``PGBACKREST_*`` variables of this process (pgBackRest options, e.g. credentials), which
    ``pg_free_env`` would drop with the other ``PG*`` variables."""
    return {k: v for k, v in os.environ.items() if k.startswith("PGBACKREST_")}


def check_stanza(stanza: str, where: str) -> str:
    if not isinstance(stanza, str) or not _STANZA.fullmatch(stanza):
        raise ConfigError(f"{where}: not a pgBackRest stanza name (letters, digits, '_', '.', '-')")
    return stanza


@dataclass(frozen=True)
class RepoBackup:
    """One backup set in the repository, from ``pgbackrest info``."""

    label: str
    kind: str  # full | diff | incr
    started: datetime
    stopped: datetime
    wal_start: str
    wal_stop: str
    database_id: int
    size_bytes: int
    repo_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "type": self.kind,
            "started_at": utc_iso(self.started),
            "stopped_at": utc_iso(self.stopped),
            "wal_start": self.wal_start,
            "wal_stop": self.wal_stop,
            "size_bytes": self.size_bytes,
            "repository_bytes": self.repo_bytes,
        }


@dataclass(frozen=True)
class RepoInfo:
    stanza: str
    backups: tuple[RepoBackup, ...]  # oldest first
    versions: Mapping[int, str]  # database id -> PostgreSQL major
    system_ids: Mapping[int, int]
    archive: Mapping[str, tuple[str, str]]  # archive id (15-1) -> (min, max) segment

    def major(self, backup: RepoBackup) -> str:
        return self.versions[backup.database_id]

    def archive_id(self, backup: RepoBackup) -> str:
        return f"{self.major(backup)}-{backup.database_id}"

    def newest(self) -> RepoBackup:
        return max(self.backups, key=lambda b: (b.stopped, b.label))

    def pick(self, target: datetime | None) -> RepoBackup:
        """The newest backup that completed by ``target`` (the newest of all for "latest")."""
        if target is None:
            return self.newest()
        usable = [b for b in self.backups if b.stopped <= target]
        if not usable:
            oldest = min(self.backups, key=lambda b: b.stopped)
            raise ConfigError(
                f"recovery target {format_target(target)} is before the oldest backup in stanza "
                f"{self.stanza} ({oldest.label}, completed {utc_iso(oldest.stopped)}): a backup can "
                "only be rolled forward; choose a later target"
            )
        return max(usable, key=lambda b: (b.stopped, b.label))


def _field(data: Any, path: Sequence[str | int], kind: type | tuple[type, ...], where: str) -> Any:
    node = data
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            raise ProviderError(f"{where}: pgbackrest info lacks {'.'.join(map(str, path))}") from None
    if not isinstance(node, kind) or isinstance(node, bool):
        raise ProviderError(f"{where}: pgbackrest info has an unexpected {'.'.join(map(str, path))}")
    return node


def _segment(value: Any, what: str) -> str:
    if not isinstance(value, str) or not SEGMENT.fullmatch(value):
        raise ProviderError(f"pgbackrest info: {what} is not a WAL segment name")
    return value


def parse_info(text: str, stanza: str) -> RepoInfo:
    """``pgbackrest info --output=json`` for one stanza, every field checked."""
    where = f"stanza {stanza}"
    try:
        data = json.loads(text)
    except ValueError:
        raise ProviderError(f"{where}: pgbackrest info did not print JSON") from None
    entry = (
        next((s for s in data if isinstance(s, dict) and s.get("name") == stanza), None)
        if isinstance(data, list)
        else None
    )
    if entry is None:
        raise ConfigError(f"{where}: not in the repository (pgbackrest info lists no such stanza)")
    status = _field(entry, ["status", "code"], int, where)
    if status not in (0, 4):  # 4: a backup/expire is running, which a read-only drill may ignore
        message = str((entry.get("status") or {}).get("message", ""))[:200]
        raise VerificationFailed(
            f"{where}: pgbackrest reports the stanza unusable (code {status}): {message}"
        )
    versions, system_ids = {}, {}
    for db in _field(entry, ["db"], list, where):
        versions[_field(db, ["id"], int, where)] = str(_field(db, ["version"], str, where))
        system_ids[db["id"]] = _field(db, ["system-id"], int, where)
    backups = []
    for raw in _field(entry, ["backup"], list, where):
        label = _field(raw, ["label"], str, where)
        if not _LABEL.fullmatch(label):
            raise ProviderError(f"{where}: a backup label has an unexpected shape ({len(label)} chars)")
        if raw.get("error") is True:
            continue  # pgBackRest found a checksum error in it during the backup: never restored from
        database_id = _field(raw, ["database", "id"], int, where)
        if database_id not in versions:
            raise ProviderError(f"{where}: backup {label} names an unknown database id")
        backups.append(
            RepoBackup(
                label=label,
                kind=str(_field(raw, ["type"], str, where)),
                started=datetime.fromtimestamp(_field(raw, ["timestamp", "start"], int, where), UTC),
                stopped=datetime.fromtimestamp(_field(raw, ["timestamp", "stop"], int, where), UTC),
                wal_start=_segment(_field(raw, ["archive", "start"], str, where), f"{label} archive start"),
                wal_stop=_segment(_field(raw, ["archive", "stop"], str, where), f"{label} archive stop"),
                database_id=database_id,
                size_bytes=_field(raw, ["info", "size"], int, where),
                repo_bytes=_field(raw, ["info", "repository", "size"], int, where),
            )
        )
    if not backups:
        raise VerificationFailed(f"{where}: the repository holds no usable backup")
    archive = {}
    for raw in entry.get("archive") or []:
        archive_id = _field(raw, ["id"], str, where)
        if _ARCHIVE_ID.fullmatch(archive_id) and raw.get("min") and raw.get("max"):
            archive[archive_id] = (_segment(raw["min"], "archive min"), _segment(raw["max"], "archive max"))
    return RepoInfo(stanza, tuple(sorted(backups, key=lambda b: b.stopped)), versions, system_ids, archive)


def failure(command: str, out: subprocess.CompletedProcess[str]) -> ProviderError:
    """The error for a pgBackRest command that exited non-zero: its exit and first lines."""
    lines = [line.strip() for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    return ProviderError(f"pgbackrest {command} failed (exit {out.returncode}): {' | '.join(lines[:3])}")


class PgBackRest:
    """pgBackRest for one stanza: the team's configuration file (or none), with the paths pointed
    into ``scratch`` (lock, log, spool). ``account``: (uid, gid) to run as when root."""

    def __init__(
        self,
        stanza: str,
        scratch: Path,
        *,
        config: Path | None = None,
        repo: int = 1,
        account: tuple[int, int] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = pgbackrest_binary()
        self.env = dict(env or {})  # e.g. PGPASSWORD for commands that connect (the stand-in's backup)
        self.stanza, self.config, self.repo, self.account = stanza, config, repo, account
        self.scratch = scratch
        for name in ("lock", "log", "spool"):
            path = scratch / f"pgbackrest-{name}"
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if account:
                os.chown(path, *account)

    def base_args(self) -> list[str]:
        args = [self.binary]
        if self.config is not None:
            args.append(f"--config={self.config}")
        return [*args, f"--stanza={self.stanza}"]

    def path_settings(self) -> dict[str, str]:
        """Lock, log and spool paths in the scratch directory, no log file: as ``PGBACKREST_*``
        variables (pgBackRest ignores the ones a command does not take; options on the command line
        are refused instead)."""
        return {
            "PGBACKREST_LOCK_PATH": str(self.scratch / "pgbackrest-lock"),
            "PGBACKREST_LOG_PATH": str(self.scratch / "pgbackrest-log"),
            "PGBACKREST_SPOOL_PATH": str(self.scratch / "pgbackrest-spool"),
            "PGBACKREST_LOG_LEVEL_FILE": "off",
            "PGBACKREST_LOG_LEVEL_CONSOLE": "warn",
            "PGBACKREST_LOG_LEVEL_STDERR": "off",
        }

    def run(
        self, command: str, *args: str, path: str | None = None, timeout: float = 3600
    ) -> subprocess.CompletedProcess[str]:
        """One pgBackRest command (``path``: repo-ls's argument); a non-zero exit is a ProviderError
        with pgBackRest's first lines."""
        out = self.execute(command, *args, path=path, timeout=timeout)
        if out.returncode != 0:
            raise failure(command, out)
        return out

    def execute(
        self, command: str, *args: str, path: str | None = None, timeout: float = 3600
    ) -> subprocess.CompletedProcess[str]:
        """One pgBackRest command, whatever its exit (see :meth:`run`); not finishing within
        ``timeout`` is a ProviderError."""
        env = pg_free_env(**{**pgbackrest_env(), **self.path_settings(), **self.env})
        kwargs: dict[str, Any] = {}
        if self.account:
            kwargs.update(user=self.account[0], group=self.account[1], extra_groups=[])
        if command in ("restore", "archive-get"):
            args = ("--reset-pg1-host", *args)
        if command in _TAKES_REPO:
            args = (f"--repo={self.repo}", *args)
        try:
            out = subprocess.run(
                [*self.base_args(), *args, command, *([path] if path else [])],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
                cwd=self.scratch,
                check=False,
                **kwargs,
            )
        except subprocess.TimeoutExpired:
            raise ProviderError(f"pgbackrest {command} did not finish within {timeout:.0f}s") from None
        return out

    def info(self) -> RepoInfo:
        return parse_info(self.run("info", "--output=json").stdout, self.stanza)

    def archived_segments(self, archive_id: str, timeline: str) -> list[str]:
        """WAL segment names of ``timeline`` in the repository's archive ``archive_id`` (``15-1``)."""
        if not (_ARCHIVE_ID.fullmatch(archive_id) and re.fullmatch(r"[0-9A-F]{8}", timeline)):
            raise ProviderError("pgbackrest: unexpected archive id or timeline")
        out = self.run(
            "repo-ls", "--recurse", "--output=json", path=f"archive/{self.stanza}/{archive_id}", timeout=600
        )
        try:
            listing = json.loads(out.stdout)
        except ValueError:
            raise ProviderError("pgbackrest repo-ls did not print JSON") from None
        names = set()
        for path in listing if isinstance(listing, dict) else {}:
            match = _WAL_OBJECT.fullmatch(str(path).rsplit("/", 1)[-1])
            if match and match.group(1).startswith(timeline):
                names.add(match.group(1))
        return sorted(names)

    def restore(self, data: Path, backup: RepoBackup, target: datetime | None) -> float:
        """``pgbackrest restore`` of ``backup`` into the empty ``data`` (recovery settings are the
        harness's own, written later); returns seconds."""
        import time

        started = time.perf_counter()
        args = [f"--pg1-path={data}", f"--set={backup.label}", "--archive-mode=off"]
        args += [f"--tablespace-map-all={data.parent / 'tablespaces'}"]
        if target is not None:
            args += ["--type=time", f"--target={format_target(target)}", "--target-action=promote"]
        self.run("restore", *args)
        return time.perf_counter() - started

    def server_env(self) -> dict[str, str]:
        """The restored server's environment for its restore_command (paths, the team's variables)."""
        return {**pgbackrest_env(), **self.path_settings()}

    def restore_command(self, data: Path) -> str:
        """The restored server's ``restore_command``: ``archive-get`` (paths from :meth:`server_env`)."""
        args = [*self.base_args(), "--reset-pg1-host", f"--repo={self.repo}", f"--pg1-path={data}"]
        args.append("--log-level-console=info")  # "unable to find <segment> in the archive" is info
        quoted = " ".join(shlex.quote(a).replace("%", "%%") for a in args)
        return f'{quoted} archive-get %f "%p"'


class PgBackRestSource:
    """The pitr-archive lane's view of a repository: pick a backup, restore it, name its WAL."""

    kind = "pgbackrest"

    def __init__(self, backrest: PgBackRest) -> None:
        self.backrest = backrest
        self.repo: RepoInfo | None = None
        self.chosen: RepoBackup | None = None

    def locate(self, target: datetime | None) -> RepoBackup:
        self.repo = self.backrest.info()
        self.chosen = self.repo.pick(target)
        return self.chosen

    @property
    def major(self) -> str:
        assert self.repo is not None
        assert self.chosen is not None
        return self.repo.major(self.chosen)

    def restore_files(self, data: Path, target: datetime | None) -> float:
        assert self.chosen is not None
        return self.backrest.restore(data, self.chosen, target)

    def verify(self) -> str:
        out = self.backrest.run("verify", "--output=text")
        summary = " ".join(out.stdout.split())[:300]
        more = f" ({summary})" if summary else ""
        return f"pgbackrest verify: every backup set and the WAL archive check out{more}"

    def segments(self, timeline: str) -> list[str]:
        assert self.repo is not None
        assert self.chosen is not None
        return self.backrest.archived_segments(self.repo.archive_id(self.chosen), timeline)

    def restore_command(self, data: Path) -> str:
        return self.backrest.restore_command(data)

    def server_env(self) -> dict[str, str]:
        return self.backrest.server_env()

    def to_dict(self) -> dict[str, Any]:
        repo = self.repo
        out: dict[str, Any] = {
            "kind": self.kind,
            "stanza": self.backrest.stanza,
            "config": str(self.backrest.config) if self.backrest.config else None,
            "repo": self.backrest.repo,
        }
        if repo is not None:
            out["backups"] = [b.to_dict() for b in repo.backups[-20:]]
            out["backup_count"] = len(repo.backups)
            out["archive"] = {k: {"min": lo, "max": hi} for k, (lo, hi) in repo.archive.items()}
        if self.chosen is not None:
            out["chosen"] = {**self.chosen.to_dict(), "major": self.major}
        return out
