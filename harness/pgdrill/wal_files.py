"""Local files of the offsite WAL copy: the base backup as a gzip'd tar, WAL files gzip'd one by
one, and their safe unpacking (temp name + rename; nothing half-written looks complete).

gzip level 1 through ISA-L (``isal.igzip``: standard gzip, several times zlib's speed both ways):
WAL segments are mostly zero-filled after a switch and a fresh base backup is mostly empty pages,
so a 16 MiB segment shrinks to a few KiB-MiB; gzip's CRC-32 re-checks every byte on the way back.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from isal import igzip, isal_zlib

from harness.errors import ArchiveError

BACKUP_MEMBER = "base-backup"
CHUNK = 1 << 20
LEVEL = 1


def _partial(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")


_INFLATE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zlib.error,
    cast("type[BaseException]", isal_zlib.error),
)
_UNPACK_ERRORS: tuple[type[BaseException], ...] = (tarfile.TarError, *_INFLATE_ERRORS)


def _gzip_writer(raw: IO[bytes]) -> IO[bytes]:
    writer = igzip.GzipFile(filename="", mode="wb", compresslevel=LEVEL, fileobj=raw, mtime=0)  # type: ignore[no-untyped-call]
    return cast(IO[bytes], writer)


@contextlib.contextmanager
def _tar_stream(archive: Path) -> Iterator[IO[bytes]]:
    """The archive's tar bytes: gunzipped (ISA-L) when it is gzip, else as they are."""
    with archive.open("rb") as raw:
        if raw.peek(2)[:2] == b"\x1f\x8b":
            with igzip.GzipFile(fileobj=raw, mode="rb") as gz:  # type: ignore[no-untyped-call]
                yield cast(IO[bytes], gz)
        else:
            yield raw


def write_backup_tar(source: Path, dest: Path) -> Path:
    """A gzip'd tar of the directory ``source``, members under ``base-backup/``; temp + rename."""
    tmp = _partial(dest)
    try:
        with (
            tmp.open("wb") as raw,
            _gzip_writer(raw) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            tar.add(source, arcname=BACKUP_MEMBER)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def extract_backup(archive: Path, dest: Path) -> Path:
    """Unpack a base-backup tar made by :func:`write_backup_tar` into ``dest``; returns the backup
    directory (members under ``base-backup/`` only, see :func:`extract_tree`)."""
    extract_tree(archive, dest, root=BACKUP_MEMBER)
    if not (dest / BACKUP_MEMBER / "backup_label").is_file():
        raise ArchiveError(f"{archive}: no {BACKUP_MEMBER}/backup_label; not a base backup")
    return dest / BACKUP_MEMBER


def extract_tree(archive: Path, dest: Path, *, root: str | None = None) -> int:
    """Unpack a (compressed) tar into ``dest``; returns the bytes written. Only directories and
    regular files with plain relative names are accepted (no links, devices, ``..`` or absolute
    names, no member twice), under ``root/`` when given; files are private to their owner (0600)."""
    written = 0
    try:
        with _tar_stream(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                parts = _safe_parts(archive, member.name, root)
                if not parts:
                    continue  # the archive's "./" itself
                target = dest.joinpath(*parts)
                if member.isdir():
                    target.mkdir(mode=0o700, parents=True, exist_ok=True)
                elif member.isreg():
                    source = tar.extractfile(member)
                    assert source is not None
                    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    with source, target.open("xb") as out:
                        shutil.copyfileobj(source, out, CHUNK)
                    target.chmod(0o600)
                    written += member.size
                else:
                    raise ArchiveError(
                        f"{archive}: a member is not a file or directory (links and tablespaces are "
                        "not supported; name withheld)"
                    )
    except _UNPACK_ERRORS as exc:
        raise ArchiveError(f"{archive}: cannot unpack the base backup: {exc}") from None
    return written


def _safe_parts(archive: Path, name: str, root: str | None) -> list[str]:
    """A member name's parts, refused (ArchiveError, name withheld) unless plain and relative."""
    if root is not None:
        parts = name.split("/")
        if parts[0] != root or any(p in ("", ".", "..") for p in parts[1:]):
            raise ArchiveError(f"{archive}: member outside {root}/ (name withheld)")
        return parts
    parts = name.removeprefix("./").rstrip("/").split("/") if name not in (".", "./") else []
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ArchiveError(f"{archive}: a member has an unsafe name (name withheld)")
    return parts


def gzip_file(source: Path, dest: Path) -> tuple[str, int]:
    """``source`` gzip'd into ``dest`` (temp + rename); SHA-256 and size of the uncompressed bytes."""
    digest, size, tmp = hashlib.sha256(), 0, _partial(dest)
    try:
        with source.open("rb") as src, tmp.open("wb") as raw, _gzip_writer(raw) as out:
            while block := src.read(CHUNK):
                digest.update(block)
                size += len(block)
                out.write(block)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest(), size


def gunzip_file(source: Path, dest: Path) -> tuple[str, int]:
    """``source`` un-gzip'd into ``dest`` (temp + rename, CRC-checked); SHA-256 and size."""
    digest, size, tmp = hashlib.sha256(), 0, _partial(dest)
    try:
        with igzip.open(source, "rb") as src, tmp.open("wb") as out:  # type: ignore[no-untyped-call]
            while block := src.read(CHUNK):
                digest.update(block)
                size += len(block)
                out.write(block)
        os.replace(tmp, dest)
    except _INFLATE_ERRORS as exc:
        raise ArchiveError(f"{source.name}: not a complete gzip stream: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest(), size
