"""The compressed layer of an export archive: gzip (the default) or zstd (opt-in), both ways.

Writing: gzip through ISA-L (``isal.igzip``: a standard RFC 1952 stream any gunzip reads, several
times faster than zlib at a few percent more size) with header mtime 0 and no name; zstd
(``zstandard``) at level 3 in one frame with a content checksum and multi-threaded, whose output
is the same for any number of threads >= 1. The same input always gives the same bytes.

Reading treats the stream as hostile. Each decoder hands out at most the bytes asked for, so the
caller's caps hold before anything is inflated; a stream that ends early, fails its CRC-32 (gzip) or
XXH64 content checksum (zstd), or carries trailing data that is not another complete frame is an
error. The zstd decoder walks the frame format itself (RFC 8878): frames must carry a content
checksum and no dictionary, windows are capped at 128 MiB, and blocks are fed one at a time (a
block inflates to at most 128 KiB), so even an RLE bomb never inflates ahead of the reader.
Skippable frames (pzstd writes them) are skipped.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import zstandard
from isal import igzip, isal_zlib

from harness.errors import ConfigError

GZIP = "gzip"
ZSTD = "zstd"
COMPRESSIONS = (GZIP, ZSTD)
#: Archive name endings and the compression each one means.
SUFFIXES = {".tar.gz": GZIP, ".tgz": GZIP, ".tar.zst": ZSTD, ".tzst": ZSTD}
GZIP_LEVEL = 3  # ISA-L's best level (0-3); about zlib 6's ratio +10 % at 7x its speed
ZSTD_LEVEL = 3  # zstd's default
ZSTD_THREADS = 2  # any count >= 1 gives the same bytes

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SKIPPABLE_MASK, _SKIPPABLE = 0xFFFFFFF0, 0x184D2A50
ZSTD_MAX_WINDOW = 1 << 27  # zstd's own default decoder limit (more needs --long / --memory)
_BLOCK_MAX = 128 * 1024
_FCS_BYTES = (0, 2, 4, 8)  # by Frame_Content_Size_flag (flag 0 with a single segment: 1 byte)
_DID_BYTES = (0, 1, 2, 4)


_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error, cast("type[BaseException]", isal_zlib.error))


class StreamError(Exception):
    """The compressed stream could not be read (corrupt, truncated, not gzip/zstd, refused)."""


def compression_for(dest: Path, requested: str | None = None) -> str:
    """The compression for an archive written to ``dest``: as requested, else as its name says
    (``.tar.zst``/``.tzst``: zstd), else gzip. A request that contradicts the name is refused."""
    by_name = next((c for s, c in SUFFIXES.items() if dest.name.endswith(s)), None)
    if requested is None:
        return by_name or GZIP
    if requested not in COMPRESSIONS:
        raise ConfigError(f"compression {requested!r} is not one of {', '.join(COMPRESSIONS)}")
    if by_name is not None and by_name != requested:
        raise ConfigError(f"{dest}: the name says {by_name} but {requested} was asked for; rename it")
    return requested


@contextlib.contextmanager
def compressor(raw: BinaryIO, compression: str) -> Iterator[BinaryIO]:
    """A writer compressing into ``raw``; the stream is complete when the block exits."""
    if compression == GZIP:
        gz = igzip.GzipFile(  # type: ignore[no-untyped-call]
            filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=raw, mtime=0
        )
        with gz:
            yield cast(BinaryIO, gz)
    elif compression == ZSTD:
        threads = max(1, min(ZSTD_THREADS, os.cpu_count() or 1))
        cctx = zstandard.ZstdCompressor(
            level=ZSTD_LEVEL, write_checksum=True, write_content_size=False, threads=threads
        )
        with cctx.stream_writer(raw, closefd=False) as zst:
            yield zst
    else:
        raise ConfigError(f"compression {compression!r} is not one of {', '.join(COMPRESSIONS)}")


class Decoder(Protocol):
    """Decompressed bytes of an archive: at most ``size`` per call, ``b""`` at the checked end."""

    compression: str

    def read(self, size: int) -> bytes: ...


def open_decoder(handle: BinaryIO, name: str) -> Decoder:
    """The decoder for ``handle`` by its first bytes (gzip unless they are zstd's; a name ending
    ``.tar.zst``/``.tzst`` must hold zstd)."""
    peek = getattr(handle, "peek", None)
    head = peek(4)[:4] if peek is not None else b""
    zstd_named = SUFFIXES.get(next((s for s in SUFFIXES if name.endswith(s)), "")) == ZSTD
    if head == ZSTD_MAGIC or (len(head) == 4 and _skippable(head)):
        return ZstdDecoder(handle)
    if zstd_named:
        if not head:
            return ZstdDecoder(handle)  # empty: the reader says "empty file"
        raise StreamError("not a valid zstd stream: no zstd frame magic at the start")
    return GzipDecoder(handle)


class GzipDecoder:
    """gzip (one or more members, zero padding after them allowed) through ISA-L."""

    compression = GZIP

    def __init__(self, handle: BinaryIO) -> None:
        self._gz = igzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[no-untyped-call]

    def read(self, size: int) -> bytes:
        try:
            return self._gz.read(size)
        except EOFError as exc:
            raise StreamError("truncated: compressed data ended early") from exc
        except igzip.BadGzipFile as exc:
            text = str(exc)
            if text.startswith("CRC check failed"):  # the data inflated, but is not what was written
                raise StreamError("corrupt compressed data: a gzip member's CRC-32 does not match") from exc
            if text.startswith("Incorrect length"):
                raise StreamError("corrupt compressed data: a gzip member's length does not match") from exc
            raise StreamError(f"not a valid gzip stream: {exc}") from exc
        except _INFLATE_ERRORS as exc:
            raise StreamError(f"corrupt compressed data: {exc}") from exc
        except OSError as exc:
            raise StreamError(f"read failed: {exc}") from exc


def _window_size(fields: bytes, single: int, fcs_flag: int) -> int:
    """The window a frame declares: its Window_Descriptor, else (a single segment) its content size."""
    if not single:
        exponent, mantissa = fields[0] >> 3, fields[0] & 7
        base = 1 << (10 + exponent)
        return base + (base >> 3) * mantissa
    width = _FCS_BYTES[fcs_flag] or 1
    size = int.from_bytes(fields[-width:], "little")
    return size + 256 if width == 2 else size


def _skippable(magic: bytes) -> bool:
    return bool(struct.unpack("<I", magic)[0] & _SKIPPABLE_MASK == _SKIPPABLE)


class ZstdDecoder:
    """zstd frames (RFC 8878), walked block by block; see the module docstring for what is refused."""

    compression = ZSTD

    def __init__(self, handle: BinaryIO) -> None:
        self._raw = handle
        self._dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._frame: zstandard.ZstdDecompressionObj | None = None
        self._ready = bytearray()  # decoded bytes; those before _pos are handed out already
        self._pos = 0
        self._offset = 0  # compressed bytes consumed
        self._frames = 0
        self._eof = False

    def read(self, size: int) -> bytes:
        while len(self._ready) - self._pos < size and not self._eof:
            self._step()
        out = bytes(self._ready[self._pos : self._pos + size])
        self._pos += len(out)
        if self._pos >= _BLOCK_MAX:  # drop what was handed out, now and then (not per read)
            del self._ready[: self._pos]
            self._pos = 0
        return out

    def _exact(self, size: int, what: str) -> bytes:
        data = self._raw.read(size)
        if len(data) != size:
            raise StreamError(f"truncated: compressed data ended early (in a zstd {what})")
        self._offset += size
        return data

    def _feed(self, data: bytes) -> None:
        assert self._frame is not None
        try:
            out = self._frame.decompress(data)
        except zstandard.ZstdError as exc:
            text = str(exc)
            if "checksum" in text:
                raise StreamError("corrupt compressed data: zstd content checksum mismatch") from exc
            raise StreamError(f"corrupt compressed data: {text}") from exc
        self._ready += out

    def _step(self) -> None:
        """Decode one frame header or one block (at most 128 KiB of output)."""
        if self._frame is None:
            self._start_frame()
            return
        header = self._exact(3, "block header")
        value = int.from_bytes(header, "little")
        last, kind, size = value & 1, (value >> 1) & 3, value >> 3
        if kind == 3:
            raise StreamError("corrupt compressed data: reserved zstd block type")
        if size > _BLOCK_MAX:
            raise StreamError("corrupt compressed data: zstd block larger than 128 KiB")
        self._feed(header + self._exact(1 if kind == 1 else size, "block"))
        if last:
            self._feed(self._exact(4, "content checksum"))
            if not self._frame.eof:
                raise StreamError("corrupt compressed data: zstd frame did not end at its last block")
            self._frame = None

    def _start_frame(self) -> None:
        magic = self._raw.read(4)
        if not magic:
            self._eof = True  # the end of the last frame: no trailing bytes of any kind
            return
        where = f"at offset {self._offset}"
        if len(magic) < 4:
            raise StreamError(f"truncated: {len(magic)} stray byte(s) after the last zstd frame")
        self._offset += 4
        if _skippable(magic):
            skip = struct.unpack("<I", self._exact(4, "skippable frame"))[0]
            while skip:
                skip -= len(self._exact(min(skip, 1 << 20), "skippable frame"))
            return
        if magic != ZSTD_MAGIC:
            if self._frames:
                raise StreamError(f"unexpected data after the last zstd frame {where}")
            raise StreamError("not a valid zstd stream: no zstd frame magic at the start")
        descriptor = self._exact(1, "frame header")
        fhd = descriptor[0]
        fcs_flag, single, reserved = fhd >> 6, fhd >> 5 & 1, fhd >> 3 & 1
        checksum, did_flag = fhd >> 2 & 1, fhd & 3
        if reserved:
            raise StreamError(f"corrupt compressed data: reserved bit set in the zstd frame header {where}")
        if not checksum:
            raise StreamError(
                f"zstd frame {where} has no content checksum, so corruption could not be detected; "
                "write archives with checksums (the zstd tool's default, --check)"
            )
        if did_flag:
            raise StreamError(f"zstd frame {where} needs a dictionary; export archives never use one")
        rest = (0 if single else 1) + _DID_BYTES[did_flag] + (_FCS_BYTES[fcs_flag] or single)
        fields = self._exact(rest, "frame header")
        if _window_size(fields, single, fcs_flag) > ZSTD_MAX_WINDOW:
            raise StreamError(
                f"zstd frame {where} needs a window over {ZSTD_MAX_WINDOW >> 20} MiB "
                "(more than the zstd tool decodes without --long)"
            )
        header = magic + descriptor + fields
        self._frame = self._dctx.decompressobj()
        self._frames += 1
        self._feed(header)
