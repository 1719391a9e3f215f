"""A plain base backup plus a WAL archive, as a team's own tools write them, drilled read-only.

The base backup: a directory (``pg_basebackup -Fp``: ``backup_label``, ``backup_manifest``), a
tar-format directory (``base.tar[.gz]`` with ``pg_wal.tar[.gz]`` and ``backup_manifest``), a single
``.tar``/``.tar.gz`` of a data directory, or an ``s3://`` key to such a tar (downloaded
checksum-verified first). The WAL archive: a directory, or an ``s3://`` prefix, laid out as an
``archive_command`` writes it (a file per WAL name: segments, ``.partial``, ``.backup``,
``.history``; each may be gzip'd as ``<name>.gz``). Sources are only read: a directory is copied or
read by ``restore_command`` in place; S3 objects are fetched (GET/HEAD/List) into the drill's
scratch directory.
"""

from __future__ import annotations

import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ArchiveError, ConfigError, VerificationFailed
from harness.offsite.fetch import fetch_archive
from harness.offsite.keys import S3Uri, is_s3_uri, parse_s3_uri
from harness.offsite.locate import list_keys
from harness.pgdrill.wal_files import extract_tree, gunzip_file
from harness.postgres.process import hand_over
from harness.postgres.recovery import SEGMENT, WAL_FILE, label_time, parse_backup_label, quoted_path

_TARS = (".tar", ".tar.gz", ".tgz")
_LABEL_LIMIT = 65536
#: Members read from the head of a tar while looking for backup_label and PG_VERSION.
_HEAD_MEMBERS = 64


@dataclass(frozen=True)
class PlainBackup:
    """What the base backup says about itself."""

    where: str  # the directory, file or s3:// key, for messages
    layout: str  # directory | tar-directory | tar
    start_wal: str
    taken_at: Any  # datetime (START TIME)
    label_start_time: str
    major: str
    has_manifest: bool


def _is_tar(path: Path) -> bool:
    return path.is_file() and path.name.endswith(_TARS)


def _tar_head(path: Path) -> dict[str, str]:
    """``backup_label`` and ``PG_VERSION`` from the first members of a (compressed) tar."""
    found: dict[str, str] = {}
    try:
        with tarfile.open(path, "r|*") as tar:
            for count, member in enumerate(tar):
                name = member.name.removeprefix("./")
                if name in ("backup_label", "PG_VERSION") and member.isreg() and member.size <= _LABEL_LIMIT:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        found[name] = handle.read().decode("utf-8", errors="replace")
                if len(found) == 2 or count >= _HEAD_MEMBERS:
                    break
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{path}: cannot read the base backup tar: {exc}") from None
    return found


def _read(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.read(_LABEL_LIMIT).decode("utf-8", errors="replace")
    except OSError:
        return ""


class BaseBackupSource:
    """``options.base_backup``: the backup and the WAL archive, named by path or ``s3://`` URI."""

    kind = "base-backup"

    def __init__(
        self, backup: str, wal: str, *, base: Path, scratch: Path, s3: Callable[[], Any] | None = None
    ) -> None:
        self.backup_text, self.wal_text, self.scratch, self._s3 = backup, wal, scratch, s3
        self.base = base
        self.path: Path | None = None  # the local backup (fetched, for s3://)
        self.info: PlainBackup | None = None
        self.wal_dir: Path | None = None  # what restore_command reads
        self.fetched: list[dict[str, Any]] = []

    def s3(self) -> Any:
        if self._s3 is None:
            raise ConfigError("options.base_backup: an s3:// source needs options.aws")
        return self._s3()

    def _local(self, text: str) -> Path:
        return (self.base / text).resolve()

    # -- locate ------------------------------------------------------------------------------------
    def locate(self) -> PlainBackup:
        """Find (and, for ``s3://``, fetch) the base backup and read its label and major version."""
        if is_s3_uri(self.backup_text):
            uri = parse_s3_uri(self.backup_text)
            if not uri.key or uri.key.endswith("/") or not uri.key.endswith(_TARS):
                raise ConfigError(f"{uri}: name one base-backup tar (.tar, .tar.gz), not a prefix")
            got = fetch_archive(self.s3(), uri, self.scratch / "base-download")
            self.fetched.append(got.to_dict())
            self.path, where = got.path, str(uri)
        else:
            self.path = self._local(self.backup_text)
            where = str(self.path)
        path = self.path
        if path.is_dir() and (path / "backup_label").is_file():
            layout, files = "directory", {n: _read(path / n) for n in ("backup_label", "PG_VERSION")}
            manifest = (path / "backup_manifest").is_file()
        elif path.is_dir() and (tar := self._base_tar(path)) is not None:
            layout, files, manifest = "tar-directory", _tar_head(tar), (path / "backup_manifest").is_file()
        elif _is_tar(path):
            layout, files, manifest = "tar", _tar_head(path), False
        else:
            raise VerificationFailed(
                f"{where}: not a base backup (no backup_label, no base.tar, not a .tar/.tar.gz file)"
            )
        if "backup_label" not in files:
            raise VerificationFailed(f"{where}: the base backup has no backup_label")
        start_wal, started = parse_backup_label(files["backup_label"], f"{where}: backup_label")
        major = files.get("PG_VERSION", "").strip()
        self.info = PlainBackup(
            where, layout, start_wal, label_time(started, f"{where}: backup_label"), started, major, manifest
        )
        return self.info

    @staticmethod
    def _base_tar(path: Path) -> Path | None:
        return next((path / n for n in ("base.tar", "base.tar.gz") if (path / n).is_file()), None)

    # -- restore -----------------------------------------------------------------------------------
    def restore_files(self, data: Path, account: tuple[int, int] | None) -> int:
        """Copy or unpack the backup into the empty ``data``; returns bytes written."""
        assert self.info is not None
        assert self.path is not None
        if self.info.layout == "directory":
            tablespaces = self.path / "pg_tblspc"
            if tablespaces.is_dir() and any(tablespaces.iterdir()):
                raise ConfigError(f"{self.info.where}: the backup has tablespaces, which are not supported")
            shutil.copytree(self.path, data, dirs_exist_ok=True)
            size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
        elif self.info.layout == "tar-directory":
            base_tar = self._base_tar(self.path)
            assert base_tar is not None
            size = extract_tree(base_tar, data)
            wal_tar = next(
                (self.path / n for n in ("pg_wal.tar", "pg_wal.tar.gz") if (self.path / n).is_file()), None
            )
            if wal_tar is not None:
                size += extract_tree(wal_tar, data / "pg_wal")
            if self.info.has_manifest:
                shutil.copy2(self.path / "backup_manifest", data / "backup_manifest")
        else:
            size = extract_tree(self.path, data)
        (data / "pg_wal").mkdir(mode=0o700, exist_ok=True)
        hand_over(data, account)
        return size

    # -- WAL ---------------------------------------------------------------------------------------
    def stage_wal(self, account: tuple[int, int] | None) -> Path:
        """A scratch copy of the WAL archive from the backup's start segment on (gunzip'd; fetched
        checksum-verified from S3), owned by the server account: the directory restore_command
        reads. The source is only read, never handed over or changed."""
        if self.wal_dir is not None:
            return self.wal_dir
        staged = self.scratch / "wal"
        staged.mkdir(mode=0o700, parents=True, exist_ok=True)
        started = time.perf_counter()
        if is_s3_uri(self.wal_text):
            self._fetch_wal(parse_s3_uri(self.wal_text), staged)
        else:
            source = self._local(self.wal_text)
            if not source.is_dir():
                raise VerificationFailed(f"{source}: the WAL archive directory does not exist")
            for path in sorted(p for p in source.iterdir() if p.is_file()):
                plain = self._wanted(path.name)
                if plain is not None:
                    self._unpack(path, staged / plain, path.name.endswith(".gz"))
        hand_over(staged, account)
        self.wal_seconds = time.perf_counter() - started
        self.wal_dir = staged
        return staged

    def _wanted(self, name: str) -> str | None:
        """The WAL file name an archive entry holds, or None when it is not WAL or predates the backup."""
        assert self.info is not None
        plain = name[:-3] if name.endswith(".gz") else name
        if not WAL_FILE.fullmatch(plain):
            return None
        start = self.info.start_wal
        if SEGMENT.fullmatch(plain[:24]) and plain[:8] == start[:8] and plain[:24] < start:
            return None
        return plain

    @staticmethod
    def _unpack(source: Path, dest: Path, gzipped: bool) -> None:
        if gzipped:
            gunzip_file(source, dest)
        else:
            shutil.copyfile(source, dest)

    def _fetch_wal(self, uri: S3Uri, staged: Path) -> None:
        prefix = uri.key if not uri.key or uri.key.endswith("/") else uri.key + "/"
        s3, download = self.s3(), self.scratch / "wal-download"
        for key in list_keys(s3, uri.bucket, prefix):
            name = key[len(prefix) :]
            plain = None if "/" in name else self._wanted(name)
            if plain is None:
                continue
            got = fetch_archive(s3, S3Uri(uri.bucket, key), download)
            self._unpack(got.path, staged / plain, name.endswith(".gz"))
            got.path.unlink()
            self.fetched.append({"key": key, "version_id": got.version_id, "sha256": f"sha256:{got.sha256}"})

    def restore_command(self, data: Path) -> str:
        assert self.wal_dir is not None
        return f"cp {quoted_path(self.wal_dir)}/%f %p"

    def server_env(self) -> dict[str, str]:
        return {}

    def segments(self, timeline: str) -> list[str]:
        assert self.wal_dir is not None
        return sorted(
            p.name
            for p in self.wal_dir.iterdir()
            if SEGMENT.fullmatch(p.name) and p.name.startswith(timeline)
        )

    def to_dict(self) -> dict[str, Any]:
        info = self.info
        return {
            "kind": self.kind,
            "backup": info.where if info else self.backup_text,
            "layout": info.layout if info else None,
            "start_wal": info.start_wal if info else None,
            "label_start_time": info.label_start_time if info else None,
            "major": info.major if info else None,
            "backup_manifest": info.has_manifest if info else None,
            "wal_archive": self.wal_text,
            "wal_directory": str(self.wal_dir.resolve()) if self.wal_dir else None,
            "fetched": self.fetched[:50],
            "fetched_objects": len(self.fetched),
        }
