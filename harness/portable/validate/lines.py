"""An entity file read in blocks of whole lines, hashed as it is read.

Reading a block at a time and splitting it in C costs a fraction of a ``readline`` per line, and
lets a rule look at a whole block at once (``EntityContext.on_block``: the secret pre-filter runs
one RE2 pass over the block). Memory stays bounded: a block is at most :data:`BLOCK` bytes plus
one line, and a line longer than the contract's ``max_record_bytes`` is drained in pieces, never
held whole; its first ``limit + 1`` bytes stand in for it and :attr:`LineBlocks.sizes` has its size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

#: Bytes read at a time.
BLOCK = 1 << 20


def split_lines(body: bytes) -> list[bytes]:
    """``body`` (whole lines) as lines that keep their LF; only LF ends a line."""
    if b"\r" not in body:
        return body.splitlines(keepends=True)  # splits at LF only when there is no CR
    lines = body.split(b"\n")
    last = lines.pop()
    out = [line + b"\n" for line in lines]
    if last:
        out.append(last)
    return out


class LineBlocks:
    """Iterate ``(first line number, lines, body)`` over a file; every byte read goes to ``update``."""

    def __init__(self, handle: BinaryIO, update: Callable[[bytes], object], limit: int) -> None:
        self.read = handle.read
        self.update = update
        self.limit = limit
        self.sizes: dict[int, int] = {}  # line number -> size of a line too long to hold
        self.lines = 0

    def _chunk(self) -> bytes:
        chunk = self.read(BLOCK)
        if chunk:
            self.update(chunk)
        return chunk

    def _drain(self, head: bytes) -> tuple[bytes, bytes]:
        """A line too long to hold that starts with ``head``: its stand-in, and what follows it.
        Its size goes to :attr:`sizes`."""
        size = len(head)
        stand_in = head[: self.limit + 1]
        rest = b""
        while chunk := self._chunk():
            cut = chunk.find(b"\n")
            if cut >= 0:
                size += cut + 1
                rest = chunk[cut + 1 :]
                break
            size += len(chunk)
        self.sizes[self.lines + 1] = size
        return stand_in, rest

    def _emit(self, lines: list[bytes], body: bytes) -> tuple[int, list[bytes], bytes]:
        first = self.lines + 1
        self.lines += len(lines)
        return first, lines, body

    def __iter__(self) -> Iterator[tuple[int, list[bytes], bytes]]:
        limit = self.limit
        carry = b""
        while True:
            chunk = self._chunk()
            if not chunk:
                if carry:  # a last line with no final newline
                    yield self._emit([carry], carry)
                return
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n") + 1
            body, carry = data[:cut], data[cut:]
            if body:
                yield self._emit(split_lines(body), body)
            while len(carry) > limit:  # the line under way is already too long: drain it
                stand_in, carry = self._drain(carry)
                yield self._emit([stand_in], b"")
                cut = carry.rfind(b"\n") + 1
                if cut:
                    body, carry = carry[:cut], carry[cut:]
                    yield self._emit(split_lines(body), body)
