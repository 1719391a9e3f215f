"""The validator's scratch files: framed marshal values, and rows spilled into hash buckets.

Frames: each value is written as its marshalled size (8 bytes) and its marshal bytes, and read
back whole and decoded from memory (``marshal.load`` on a file reads a few bytes at a time through
Python calls, about 15 times slower for lists of integers).

Buckets: rows that do not fit in memory (an entity's ids past its in-memory set, and the keys the
dangling check must look up among them) go to :data:`BUCKETS` files by a hash of their key, in the
order they come. Equal keys share a bucket, so duplicates and lookups take one set per bucket: a
bucket holding more than :data:`HELD` distinct keys is split again by another hash when it is
read, so at most that many keys are held at a time, whatever the export's size.
"""

from __future__ import annotations

import hashlib
import marshal
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

#: Buckets rows are spread over (by a hash of the key), at every level.
BUCKETS = 64
#: Rows a bucket holds in memory before they are written out, and keys one set holds at most.
HELD = 1 << 17

Row = tuple[Any, ...]  # (key, ...): the key first


def write_marshalled(out: BinaryIO, value: Any) -> None:
    """Append ``value`` to ``out`` as one frame: its marshalled size (8 bytes), then its bytes."""
    data = marshal.dumps(value)
    out.write(len(data).to_bytes(8, "little"))
    out.write(data)


def marshalled(fh: BinaryIO) -> Iterator[Any]:
    """The values :func:`write_marshalled` appended to ``fh`` (our own scratch files), in order.

    Each frame is read whole and decoded from memory: ``marshal.load`` on a file reads it a few
    bytes at a time through Python calls, about 15 times slower for lists of integers."""
    while head := fh.read(8):
        size = int.from_bytes(head, "little")
        data = fh.read(size)
        if len(head) != 8 or len(data) != size:
            raise OSError(f"{getattr(fh, 'name', 'a scratch file')}: a frame ends early")
        yield marshal.loads(data)  # noqa: S302 - our own scratch file


def bucket_of(key: int | str, level: int = 0) -> int:
    """The bucket of ``key`` at ``level``, the same in every process. Each level takes other bits
    of the key's CRC-32 (a seeded CRC would not do: for keys of one length it keeps the pairs that
    share a bucket together), and past those a BLAKE2b personalised by the level."""
    if key.__class__ is int and level == 0:
        return int(key) % BUCKETS
    data = str(key).encode("utf-8", "surrogatepass") if key.__class__ is str else b"%d" % int(key)
    if level < _CRC_LEVELS:
        return (zlib.crc32(data) >> (6 * level)) % BUCKETS
    digest = hashlib.blake2b(data, digest_size=8, person=b"drill%d" % level).digest()
    return int.from_bytes(digest, "little") % BUCKETS


#: Levels that take six bits of the CRC-32 each.
_CRC_LEVELS = 5
#: Past this level a bucket is read whole however many keys it has (only keys that agree in 64
#: bits of BLAKE2b beside the CRC get here).
_MAX_LEVEL = 12


def _distinct_or_none(rows: Iterable[Row]) -> set[Any] | None:
    """The rows' distinct keys, or None once they are more than :data:`HELD`."""
    held: set[Any] = set()
    for row in rows:
        held.add(row[0])
        if len(held) > HELD:
            return None
    return held


class Buckets:
    """Rows spread over :data:`BUCKETS` files named ``prefix`` in ``directory``, each bucket in the
    order its rows were added; ``level`` picks the hash. Files an earlier one of the same name left
    are removed: it starts empty."""

    def __init__(self, directory: Path, prefix: str, level: int = 0) -> None:
        self.directory, self.prefix, self.level = directory, prefix, level
        self.held: list[list[Row]] = [[] for _ in range(BUCKETS)]
        self.sizes = [0] * BUCKETS
        self.count = 0  # rows held in memory
        self.written: set[int] = set()
        for bucket in range(BUCKETS):
            self.path(bucket).unlink(missing_ok=True)

    def path(self, bucket: int) -> Path:
        return self.directory / f"{self.prefix}.{bucket}.rows"

    def add(self, row: Row) -> None:
        bucket = bucket_of(row[0], self.level)
        self.held[bucket].append(row)
        self.sizes[bucket] += 1
        self.count += 1
        if self.count >= HELD:
            self.write()

    def extend(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.add(row)

    def write(self) -> None:
        """Every held row to its bucket's file (memory is then free)."""
        for bucket, rows in enumerate(self.held):
            if rows:
                with self.path(bucket).open("ab") as out:
                    write_marshalled(out, rows)
                self.held[bucket] = []
                self.written.add(bucket)
        self.count = 0

    def rows(self, bucket: int) -> Iterator[Row]:
        """The bucket's rows in the order they were added."""
        if bucket in self.written:
            with self.path(bucket).open("rb") as fh:
                for chunk in marshalled(fh):
                    yield from chunk
        yield from self.held[bucket]

    def split(self, bucket: int) -> Buckets:
        """One bucket's rows spread over the buckets of the next level, in the same order."""
        below = Buckets(self.directory, f"{self.prefix}.{bucket}", self.level + 1)
        below.extend(self.rows(bucket))
        below.write()
        return below


def repeats(rows: Buckets) -> list[Row]:
    """Each row whose key an earlier row (in the order added) has; at most :data:`HELD` distinct
    keys held: a bucket with more is split by the next level's hash (a key's repeats go with it)."""
    found: list[Row] = []
    for bucket in range(BUCKETS):
        if not rows.sizes[bucket]:
            continue
        seen: set[Any] = set()
        here: list[Row] = []
        too_many = False
        for row in rows.rows(bucket):
            if row[0] in seen:
                here.append(row)
            else:
                seen.add(row[0])
                if len(seen) > HELD and rows.level < _MAX_LEVEL:
                    too_many = True
                    break
        found.extend(repeats(rows.split(bucket)) if too_many else here)
    return found


def absent(keys: Buckets, among: Buckets) -> set[Any]:
    """The keys of ``keys`` that are no key of ``among`` (both spread with the same levels)."""
    missing: set[Any] = set()
    for bucket in range(BUCKETS):
        if not keys.sizes[bucket]:
            continue
        if among.level < _MAX_LEVEL:
            held = _distinct_or_none(among.rows(bucket))
            if held is None:
                missing |= absent(keys.split(bucket), among.split(bucket))
                continue
        else:
            held = {row[0] for row in among.rows(bucket)}
        missing.update(row[0] for row in keys.rows(bucket) if row[0] not in held)
    return missing
