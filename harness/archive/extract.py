"""Safe extraction of an export archive treated as hostile (see ``harness.archive``)."""

from __future__ import annotations

import collections
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from harness.archive.codecs import Decoder, StreamError, open_decoder
from harness.archive.names import (
    COPY_CHUNK,
    END_OF_ARCHIVE,
    MEMBER_MODE,
    OVERHEAD_FIXED,
    OVERHEAD_PER_MEMBER,
    PARTIAL_SUFFIX,
    TYPE_NAMES,
    name_problem,
)
from harness.errors import ArchiveError, ConfigError
from harness.files import MANIFEST
from harness.secrets import safe_key


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


class _Inflater:
    """Read side of the archive: bounded decompression (gzip or zstd) feeding ``tarfile`` in stream
    mode.

    Counts every decompressed byte and refuses to go past ``cap``, so nothing
    (not even an oversized extended header) can inflate without bound. Keeps
    the last few chunks it handed out, so the end of the tar stream can be
    checked after ``tarfile`` stops reading headers.
    """

    def __init__(self, decoder: Decoder, cap: int, keep: int) -> None:
        self._decoder = decoder
        self._cap = cap
        self._keep = keep
        self._recent: collections.deque[bytes] = collections.deque()
        self._recent_len = 0
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > COPY_CHUNK:
            size = COPY_CHUNK
        data = self._decoder.read(size)
        self.position += len(data)
        if self.position > self._cap:
            raise StreamError(f"decompressed stream exceeds {self._cap} bytes")
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
            raise StreamError(f"cannot re-read stream at offset {offset}")
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
    problem = name_problem(member.name)
    if problem:
        return problem
    if member.sparse is not None:
        return "sparse file; only plain regular files allowed"
    if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
        kind = TYPE_NAMES.get(member.type, f"unsupported member type {member.type!r}")
        if member.issym() or member.islnk():
            kind += f" -> {safe_key(member.linkname)!r}"
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
            block = source.read(min(COPY_CHUNK, size - written))
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
    cap = data_cap + (limits.max_members + 1) * OVERHEAD_PER_MEMBER + OVERHEAD_FIXED
    bufsize = tarfile.RECORDSIZE
    where = "at the start"
    seen: set[str] = set()  # casefolded: no collisions on case-insensitive filesystems either
    has_manifest = False
    total = 0

    def fail(reason: str) -> ArchiveError:
        return ArchiveError(f"{archive}: {where}: {reason}")

    try:
        inflater = _Inflater(open_decoder(handle, archive.name), cap, keep=2 * bufsize + END_OF_ARCHIVE)
        with tarfile.open(fileobj=inflater, mode="r|", bufsize=bufsize) as tar:
            count = 0
            while (member := tar.next()) is not None:
                where = f"member {safe_key(member.name)!r}"
                count += 1
                if count > limits.max_members:
                    raise fail(f"more than {limits.max_members} members")
                if member.isdir() and member.name in (".", "./"):
                    continue  # the root entry of `tar czf x.tar.gz -C dir .`: nothing to extract
                if member.name.startswith("./"):
                    member.name = member.name[2:]  # `./manifest.json` is `manifest.json`
                problem = _member_problem(member)
                if problem:
                    raise fail(problem)
                if member.name.casefold() in seen:
                    raise fail("duplicate member")
                seen.add(member.name.casefold())
                has_manifest = has_manifest or member.name == MANIFEST
                if member.size > limits.max_member_bytes:
                    raise fail(f"size {member.size} exceeds the per-member limit {limits.max_member_bytes}")
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
    except (tarfile.TarError, StreamError) as exc:
        raise fail(str(exc) or type(exc).__name__) from exc
    if not has_manifest:
        raise ArchiveError(f"{archive}: no {MANIFEST} member; not an export archive")


def _check_end(inflater: _Inflater, offset: int) -> None:
    """Everything after the last member must be zero blocks, through a valid end of the compressed
    stream (gzip CRC, zstd content checksum)."""
    if inflater.recent_from(offset).count(0) != inflater.position - offset:
        raise StreamError(f"invalid tar header at offset {offset} (corrupt archive)")
    zeros = inflater.position - offset
    while block := inflater.read(COPY_CHUNK):
        if block.count(0) != len(block):
            raise StreamError(f"unexpected data after the end-of-archive marker at offset {offset}")
        zeros += len(block)
    if zeros < END_OF_ARCHIVE:
        raise StreamError("truncated: end-of-archive marker missing")


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
