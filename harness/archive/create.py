"""Deterministic ``.tar.gz`` (or opt-in ``.tar.zst``) archives of an export directory (see
``harness.archive``)."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from harness.archive.codecs import compression_for, compressor
from harness.archive.names import (
    COPY_CHUNK,
    MEMBER_MODE,
    MEMBER_MTIME,
    PARTIAL_SUFFIX,
    TAR_FORMAT,
    name_problem,
)
from harness.errors import ConfigError
from harness.files import MANIFEST


@dataclass(frozen=True)
class ArchiveInfo:
    path: Path
    sha256: str  # hex digest of the archive's bytes
    size_bytes: int
    members: tuple[str, ...]  # in archive order
    uncompressed_bytes: int
    compression: str = "gzip"  # gzip (.tar.gz) or zstd (.tar.zst)


class _HashingWriter:
    """Write-through file wrapper that hashes and counts the bytes written."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._raw.flush()


def _export_files(export_dir: Path) -> list[str]:
    """The export's file names in archive order; refuse anything but flat regular files."""
    try:
        entries = list(os.scandir(export_dir))
    except FileNotFoundError as exc:
        raise ConfigError(f"{export_dir}: export directory does not exist") from exc
    except NotADirectoryError as exc:
        raise ConfigError(f"{export_dir}: not a directory") from exc
    except OSError as exc:
        raise ConfigError(f"{export_dir}: cannot list: {exc.strerror or exc}") from exc
    names = []
    for entry in entries:
        if entry.is_symlink():
            raise ConfigError(f"{export_dir}: {entry.name!r} is a symbolic link; only regular files allowed")
        if not entry.is_file(follow_symlinks=False):
            kind = "a directory" if entry.is_dir(follow_symlinks=False) else "not a regular file"
            raise ConfigError(f"{export_dir}: {entry.name!r} is {kind}; the export format is flat")
        problem = name_problem(entry.name)
        if problem:
            raise ConfigError(f"{export_dir}: file {entry.name!r}: {problem}")
        names.append(entry.name)
    if MANIFEST not in names:
        raise ConfigError(f"{export_dir}: no {MANIFEST}; not an export directory")
    names.remove(MANIFEST)
    return [MANIFEST, *sorted(names)]


def _add_file(tar: tarfile.TarFile, path: Path) -> int:
    """Stream one regular file into ``tar`` with fixed metadata; return its size."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path}: not a regular file")
        info = tarfile.TarInfo(path.name)
        info.size = st.st_size
        info.mtime = MEMBER_MTIME
        info.mode = MEMBER_MODE
        info.type = tarfile.REGTYPE
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        try:
            tar.addfile(info, handle)
        except OSError as exc:
            raise ConfigError(f"{path}: read failed while archiving (changed during export?): {exc}") from exc
    return st.st_size


def create_archive(export_dir: Path, dest: Path, *, compression: str | None = None) -> ArchiveInfo:
    """Write a deterministic archive of ``export_dir`` to ``dest``: gzip unless ``compression``
    or the name (``.tar.zst``, ``.tzst``) says zstd.

    The archive is written to ``<dest>.partial`` and renamed onto ``dest`` only
    once complete; on any error the partial file is removed.
    """
    codec = compression_for(dest, compression)
    names = _export_files(export_dir)
    try:
        if dest.resolve().parent == export_dir.resolve():
            raise ConfigError(f"{dest}: the archive must not be written inside the export directory")
    except OSError as exc:
        raise ConfigError(f"{dest}: cannot resolve: {exc}") from exc
    partial = dest.with_name(dest.name + PARTIAL_SUFFIX)
    total = 0
    try:
        try:
            raw = partial.open("wb")
        except OSError as exc:
            raise ConfigError(f"{partial}: cannot create: {exc.strerror or exc}") from exc
        with raw:
            writer = _HashingWriter(raw)
            with (
                compressor(writer, codec) as packed,  # type: ignore[arg-type]
                tarfile.open(fileobj=packed, mode="w", format=TAR_FORMAT, encoding="utf-8") as tar,
            ):
                # Fewer, larger writes into the compressor (the same ones every time: determinism).
                tar.copybufsize = COPY_CHUNK  # type: ignore[attr-defined]
                for name in names:
                    total += _add_file(tar, export_dir / name)
        os.replace(partial, dest)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ConfigError(f"{dest}: cannot write archive: {exc}") from exc
        raise
    return ArchiveInfo(
        path=dest,
        sha256=writer.digest.hexdigest(),
        size_bytes=writer.size,
        members=tuple(names),
        uncompressed_bytes=total,
        compression=codec,
    )
