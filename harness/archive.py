"""Deterministic ``.tar.gz`` archives of an export directory, and safe extraction.

An export directory is flat: ``manifest.json`` plus ``*.jsonl`` files. The archive holds
``manifest.json`` first, then the other files sorted by name, in PAX format with every
variable header field fixed (mtime 2000-01-01, uid/gid 0, no owner names, mode 0644) in a
gzip stream with header mtime 0 and no name: identical input, byte-identical output.

Extraction treats the archive as hostile. Each member is checked before a byte
of it is written: only regular files with plain flat names
(``[A-Za-z0-9._-]+``), no duplicates, and the member count, the declared member
size, the running total and the ratio of total to compressed size all stay in
:class:`ExtractLimits`. The checks run while the archive is streamed, so a gzip
bomb is refused at its header instead of being inflated. Tar's own ``data``
extraction filter runs as a second line of defence. After the last member the
rest of the stream must be the zero end-of-archive marker and the gzip CRC must
match, so a truncated or corrupted archive never passes as a shorter one.

Both directions write to a ``.partial`` sibling renamed into place only on success.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import os
import re
import shutil
import stat
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from harness.errors import ArchiveError, ConfigError
from harness.files import MANIFEST

PARTIAL_SUFFIX = ".partial"
MEMBER_MTIME = 946_684_800  # 2000-01-01T00:00:00Z: fixed, and not "implausibly old" to tar tools.
MEMBER_MODE = 0o644
COMPRESSLEVEL = 6
TAR_FORMAT = tarfile.PAX_FORMAT

_NAME_RE = re.compile(r"[A-Za-z0-9._-]+")
_COPY_CHUNK = 1 << 20
# Bytes the decompressed stream may hold besides member data: per member a
# header block, padding and room for an extended header; plus the
# end-of-archive marker and record padding.
_OVERHEAD_PER_MEMBER = 4096
_OVERHEAD_FIXED = 1 << 20
_END_OF_ARCHIVE = 2 * tarfile.BLOCKSIZE

_TYPE_NAMES = {
    tarfile.SYMTYPE: "symbolic link",
    tarfile.LNKTYPE: "hard link",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
    tarfile.DIRTYPE: "directory",
    tarfile.CONTTYPE: "contiguous file",
    tarfile.GNUTYPE_SPARSE: "sparse file",
}


@dataclass(frozen=True)
class ArchiveInfo:
    path: Path
    sha256: str  # hex digest of the .tar.gz bytes
    size_bytes: int
    members: tuple[str, ...]  # in archive order
    uncompressed_bytes: int


@dataclass(frozen=True)
class ExtractLimits:
    max_members: int = 10_000
    max_member_bytes: int = 64 * 2**30
    max_total_bytes: int = 256 * 2**30
    max_ratio: float = 200.0  # total uncompressed / compressed archive size

    def __post_init__(self) -> None:
        for name in ("max_members", "max_member_bytes", "max_total_bytes", "max_ratio"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"ExtractLimits.{name} must be positive, got {getattr(self, name)!r}")


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe flat member name, or None if it is."""
    if not name:
        return "empty name"
    if name.startswith("/"):
        return "absolute path"
    if "\\" in name:
        return "backslash in name"
    if ".." in name.split("/"):
        return "path traversal ('..')"
    if "/" in name:
        return "nested path (the export format is flat)"
    if name in (".", ".."):
        return "not a file name"
    if not _NAME_RE.fullmatch(name):
        return "name must match [A-Za-z0-9._-]+"
    return None


# --------------------------------------------------------------------------- create


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
        problem = _name_problem(entry.name)
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


def create_archive(export_dir: Path, dest: Path) -> ArchiveInfo:
    """Write a deterministic ``.tar.gz`` of ``export_dir`` to ``dest``.

    The archive is written to ``<dest>.partial`` and renamed onto ``dest`` only
    once complete; on any error the partial file is removed.
    """
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
                gzip.GzipFile(
                    fileobj=writer, mode="wb", compresslevel=COMPRESSLEVEL, mtime=0, filename=""
                ) as gz,
                tarfile.open(fileobj=gz, mode="w", format=TAR_FORMAT, encoding="utf-8") as tar,
            ):
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
    )


# --------------------------------------------------------------------------- extract


class _StreamError(Exception):
    """The compressed stream could not be read (corrupt, truncated, not gzip, too large)."""


class _Inflater:
    """Read side of the archive: bounded gzip decompression feeding ``tarfile`` in stream mode.

    Counts every decompressed byte and refuses to go past ``cap``, so nothing
    (not even an oversized extended header) can inflate without bound. Keeps
    the last few chunks it handed out, so the end of the tar stream can be
    checked after ``tarfile`` stops reading headers.
    """

    def __init__(self, gz: gzip.GzipFile, cap: int, keep: int) -> None:
        self._gz = gz
        self._cap = cap
        self._keep = keep
        self._recent: collections.deque[bytes] = collections.deque()
        self._recent_len = 0
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > _COPY_CHUNK:
            size = _COPY_CHUNK
        try:
            data = self._gz.read(size)
        except EOFError as exc:
            raise _StreamError("truncated: compressed data ended early") from exc
        except gzip.BadGzipFile as exc:
            raise _StreamError(f"not a valid gzip stream: {exc}") from exc
        except zlib.error as exc:
            raise _StreamError(f"corrupt compressed data: {exc}") from exc
        except OSError as exc:
            raise _StreamError(f"read failed: {exc}") from exc
        self.position += len(data)
        if self.position > self._cap:
            raise _StreamError(f"decompressed stream exceeds {self._cap} bytes")
        if data:
            self._recent.append(data)
            self._recent_len += len(data)
            while self._recent and self._recent_len - len(self._recent[0]) >= self._keep:
                self._recent_len -= len(self._recent.popleft())
        return data

    def recent_from(self, offset: int) -> bytes:
        """The bytes already handed out from stream ``offset`` on."""
        start = self.position - self._recent_len
        if offset < start or offset > self.position:
            raise _StreamError(f"cannot re-read stream at offset {offset}")
        return b"".join(self._recent)[offset - start :]

    # The rest of tarfile's file-object protocol; unused in stream read mode.
    def write(self, data: bytes) -> int:
        raise OSError("read-only stream")

    def tell(self) -> int:
        return self.position

    def seek(self, pos: int) -> int:
        raise OSError("stream is not seekable")

    def close(self) -> None:
        pass


def _member_problem(member: tarfile.TarInfo) -> str | None:
    problem = _name_problem(member.name)
    if problem:
        return problem
    if member.sparse is not None:
        return "sparse file; only plain regular files allowed"
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        kind = _TYPE_NAMES.get(member.type, f"unsupported member type {member.type!r}")
        if member.issym() or member.islnk():
            kind += f" -> {member.linkname!r}"
        return f"{kind}; only regular files allowed"
    if member.size < 0:
        return f"invalid size {member.size}"
    return None


def _copy_member(source: IO[bytes], target: Path, size: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(target, flags, MEMBER_MODE)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot create: {exc.strerror or exc}") from exc
    written = 0
    with os.fdopen(fd, "wb") as out:
        while written < size:
            block = source.read(min(_COPY_CHUNK, size - written))
            if not block:
                raise tarfile.ReadError(f"unexpected end of data after {written} of {size} bytes")
            try:
                out.write(block)
            except OSError as exc:
                raise ConfigError(f"{target}: write failed: {exc.strerror or exc}") from exc
            written += len(block)


def _extract_members(
    archive: Path, handle: BinaryIO, partial: Path, limits: ExtractLimits, compressed_size: int
) -> None:
    ratio_cap = limits.max_ratio * compressed_size
    data_cap = min(limits.max_total_bytes, int(ratio_cap))
    cap = data_cap + (limits.max_members + 1) * _OVERHEAD_PER_MEMBER + _OVERHEAD_FIXED
    bufsize = tarfile.RECORDSIZE
    where = "at the start"
    seen: set[str] = set()  # casefolded: no collisions on case-insensitive filesystems either
    has_manifest = False
    total = 0

    def fail(reason: str) -> ArchiveError:
        return ArchiveError(f"{archive}: {where}: {reason}")

    try:
        with gzip.GzipFile(fileobj=handle, mode="rb") as gz:
            inflater = _Inflater(gz, cap, keep=2 * bufsize + _END_OF_ARCHIVE)
            with tarfile.open(fileobj=inflater, mode="r|", bufsize=bufsize) as tar:
                count = 0
                while (member := tar.next()) is not None:
                    where = f"member {member.name!r}"
                    count += 1
                    if count > limits.max_members:
                        raise fail(f"more than {limits.max_members} members")
                    problem = _member_problem(member)
                    if problem:
                        raise fail(problem)
                    if member.name.casefold() in seen:
                        raise fail("duplicate member")
                    seen.add(member.name.casefold())
                    has_manifest = has_manifest or member.name == MANIFEST
                    if member.size > limits.max_member_bytes:
                        raise fail(
                            f"size {member.size} exceeds the per-member limit {limits.max_member_bytes}"
                        )
                    total += member.size
                    if total > limits.max_total_bytes:
                        raise fail(f"total size {total} exceeds the limit {limits.max_total_bytes}")
                    if total > ratio_cap:
                        raise fail(
                            f"total size {total} is more than {limits.max_ratio:g} times the "
                            f"compressed size {compressed_size} (compression bomb?)"
                        )
                    tarfile.data_filter(member, str(partial))
                    source = tar.extractfile(member)
                    if source is None:
                        raise fail("has no file data")
                    _copy_member(source, partial / member.name, member.size)
                    where = f"after member {member.name!r}"
                _check_end(inflater, tar.offset)
    except (tarfile.TarError, _StreamError) as exc:
        raise fail(str(exc) or type(exc).__name__) from exc
    if not has_manifest:
        raise ArchiveError(f"{archive}: no {MANIFEST} member; not an export archive")


def _check_end(inflater: _Inflater, offset: int) -> None:
    """Everything after the last member must be zero blocks, through a valid gzip end."""
    if inflater.recent_from(offset).count(0) != inflater.position - offset:
        raise _StreamError(f"invalid tar header at offset {offset} (corrupt archive)")
    zeros = inflater.position - offset
    while block := inflater.read(_COPY_CHUNK):
        if block.count(0) != len(block):
            raise _StreamError(f"unexpected data after the end-of-archive marker at offset {offset}")
        zeros += len(block)
    if zeros < _END_OF_ARCHIVE:
        raise _StreamError("truncated: end-of-archive marker missing")


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def extract_archive(archive: Path, dest: Path, *, limits: ExtractLimits = ExtractLimits()) -> Path:
    """Safely extract an export archive into ``dest`` (which must not exist); return ``dest``.

    Members go into ``<dest>.partial/``, which is renamed to ``dest`` only after
    the whole archive verified; on any error it is removed.
    """
    if dest.exists() or dest.is_symlink():
        raise ConfigError(f"{dest}: extraction target already exists (extracting {archive})")
    partial = dest.parent / (dest.name + PARTIAL_SUFFIX)
    try:
        handle = archive.open("rb")
    except FileNotFoundError as exc:
        raise ConfigError(f"{archive}: archive does not exist") from exc
    except OSError as exc:
        raise ConfigError(f"{archive}: cannot open archive: {exc.strerror or exc}") from exc
    with handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ConfigError(f"{archive}: not a regular file")
        compressed_size = os.fstat(handle.fileno()).st_size
        try:
            _remove(partial)  # stale leftover of an interrupted run
            partial.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(f"{partial}: cannot create: {exc.strerror or exc}") from exc
        try:
            _extract_members(archive, handle, partial, limits, compressed_size)
            if dest.exists() or dest.is_symlink():
                raise ConfigError(f"{dest}: extraction target appeared while extracting {archive}")
            os.rename(partial, dest)
        except BaseException as exc:
            _remove(partial)
            if isinstance(exc, OSError):
                raise ConfigError(f"{dest}: cannot move extracted archive into place: {exc}") from exc
            raise
    return dest
