"""File helpers every lane shares: hashing, reading lines a block at a time, the write-once atomic
writer, and the manifest's name."""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from harness.errors import AlreadyExists, ConfigError

#: The file name of every manifest the harness reads or writes (exports and snapshots).
MANIFEST = "manifest.json"


def sha256_file(path: Path, chunk: int = 1 << 20, digest: Any = None) -> str:
    """Hex SHA-256 of a file's bytes, read in ``chunk``-sized pieces (into ``digest``, if given)."""
    digest = hashlib.sha256() if digest is None else digest
    try:
        with path.open("rb") as handle:
            while block := handle.read(chunk):
                digest.update(block)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return str(digest.hexdigest())


def complete_blocks(path: Path, size: int = 1 << 20) -> Iterator[tuple[bytes, int]]:
    """A file's bytes about ``size`` at a time, each block with the length of its whole lines:
    ``block[:end]`` ends in a newline, and what follows it (an unfinished line) starts the next
    block. A newline is added after a last line without one; a line longer than ``size`` is read
    whole into one block."""
    with path.open("rb") as fh:
        tail, parts = b"", []
        while chunk := fh.read(size):
            end = chunk.rfind(b"\n") + 1
            if not end:
                parts.append(chunk)
                continue
            block = b"".join([tail, *parts, chunk]) if tail or parts else chunk
            end += len(block) - len(chunk)
            tail, parts = block[end:], []
            yield block, end
        if tail or parts:
            last = b"".join([tail, *parts, b"\n"])
            yield last, len(last)


def line_blocks(path: Path, size: int = 1 << 20) -> Iterator[tuple[list[bytes], bytes]]:
    """A file's lines (without the newline) a block at a time (:func:`complete_blocks`), each with
    the bytes of the block they were split from."""
    for block, _ in complete_blocks(path, size):
        yield whole_lines(block), block


def whole_lines(block: bytes) -> list[bytes]:
    """A block's lines up to its last newline, without their newlines; what follows that newline
    (an unfinished line, read again with the next block) is left out."""
    lines = block.split(b"\n")
    lines.pop()
    return lines


def write_once(
    path: Path, data: bytes, *, mode: int = 0o644, refusal: str = "files here are never replaced"
) -> None:
    """Create ``path`` holding ``data``: complete or absent, never replacing an existing file.

    The bytes go to a private temporary sibling (``mode``) that is hard-linked into place, so a
    reader never sees half a file and a crash leaves nothing under ``path``. An existing ``path``
    is refused (AlreadyExists, a RefusedError, ending in ``refusal``)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot create: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.link(tmp, path)
    except FileExistsError:
        raise AlreadyExists(f"{path}: already exists; {refusal}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def replace_json(path: Path, data: Any) -> None:
    """Write JSON (indented, sorted keys) to a temporary sibling and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    os.replace(tmp, path)


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading only if it is a regular file itself: never through a symbolic link
    (an export entry linking outside the export must not be read), never a device or FIFO."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror or exc}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError(f"{path}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")
