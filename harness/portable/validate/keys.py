"""Record keys in compact form, and the set of one entity's keys in bounded memory.

Ids and references compare as text (``key_text``: ``5`` and ``"5"`` are the same id, ``"05"`` is
another). :func:`key_of` gives the same answers with less: an integer for an id whose text is a
canonical decimal below 10**18 in size, the text otherwise, so two values are the same id exactly
when their keys are equal, and the common integer ids cost no string at all.

A :class:`KeySet` holds one entity's keys as they are read. Harness exports list records in
primary-key order, so keys usually arrive as ascending integers: those are kept as runs
(``[start, end]`` intervals), a few numbers however many records. From the first key that breaks
the order on, the rest go to a set of at most :data:`SET_LIMIT` keys, and the keys after those to
hash buckets on disk (``scratch.Buckets``), whose duplicates :meth:`KeySet.disk_duplicates` finds
one bucket at a time when the entity is read. The set is written and read back :data:`CHUNK` keys
at a time, so a worker's memory is the same few megabytes whether the export has a million records
or a billion. A key seen before is a duplicate, reported with its line; the first occurrence is not.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.portable.contract import key_text
from harness.portable.validate.scratch import Buckets, absent, marshalled, repeats, write_marshalled

Key = int | str

#: Integer keys are the integers strictly between -BOUND and BOUND (their text has <= 18 digits).
BOUND = 10**18
#: Keys a set holds in memory; later ones go to disk. A fixed cap (about 18 MB of UUID-sized keys), so
#: peak memory stops growing once an entity has that many ids out of order (the reference data's
#: ``files`` at about 1.3M rows) and is the same for any larger export.
SET_LIMIT = 1 << 17
#: Keys marshalled at a time when a set is written out (never one buffer of the whole set).
CHUNK = 10_000
#: Runs of ascending keys kept before the rest goes to a set (ids with many gaps).
MAX_RUNS = 100_000


def key_of_text(text: str) -> Key:
    """The key of an id written as ``text`` (see the module docstring)."""
    if text.isascii() and len(text) <= 19:
        digits = text[1:] if text[:1] == "-" else text
        if digits.isdigit() and (digits[0] != "0" or text == "0"):
            value = int(text)
            if -BOUND < value < BOUND:
                return value
    return text


def key_of(value: Any) -> Key | None:
    """The key of an id or reference value; None when it is not an id (as ``key_text``)."""
    if value.__class__ is int:
        return value if -BOUND < value < BOUND else str(value)
    if value.__class__ is str:
        return key_of_text(value)
    text = key_text(value)
    return None if text is None else key_of_text(text)


class KeySet:
    """One entity's keys (see the module docstring); ``duplicates`` lists ``(line, record id)`` of
    every record whose key an earlier one has."""

    def __init__(self, overflow: Buckets) -> None:
        self.starts: list[int] = []  # closed runs of ascending integer keys
        self.ends: list[int] = []
        self.start = self.end = -BOUND - 1  # the open run, once ``open``
        self.open = False
        self.ascending = True
        self.rest: set[Key] = set()  # the first SET_LIMIT keys after the order broke
        self.rest_file: Path | None = None  # the rest, written out by seal()
        self.overflow = overflow  # (key, line, record id) of the keys after those, in hash buckets on disk
        self.sealed = False
        self.on_disk = False  # whether keys went to the overflow
        self.duplicates: list[tuple[int, str | None]] = []

    def add(self, key: Key, line: int, rid: str | None) -> None:
        if self.ascending:
            if key.__class__ is int and key > self.end:
                if key == self.end + 1:
                    self.end = key
                    return
                if self.open:
                    self.starts.append(self.start)
                    self.ends.append(self.end)
                self.start = self.end = key
                self.open = True
                if len(self.starts) >= MAX_RUNS:
                    self._close_runs()
                return
            self._close_runs()
        if self.in_runs(key) or key in self.rest:
            self.duplicates.append((line, rid))
        elif len(self.rest) < SET_LIMIT:
            self.rest.add(key)
        else:  # in neither: a duplicate only of another key on disk (disk_duplicates finds it)
            if self.sealed:
                raise RuntimeError("a sealed KeySet takes no more keys")
            self.on_disk = True
            self.overflow.add((key, line, rid))

    def _close_runs(self) -> None:
        """Keys stop ascending: the runs so far are frozen, later keys go to the set."""
        if self.open:
            self.starts.append(self.start)
            self.ends.append(self.end)
            self.open = False
        self.ascending = False

    def in_runs(self, key: Key) -> bool:
        if key.__class__ is not int:
            return False
        at = bisect.bisect_right(self.starts, key) - 1
        return at >= 0 and key <= self.ends[at]

    def seal(self, path: Path) -> None:
        """The entity is read: close the runs, write the set out to ``path`` and free it."""
        self._close_runs()
        with path.open("wb") as out:
            for chunk in _drained(self.rest):
                write_marshalled(out, chunk)
        self.rest_file = path
        self.overflow.write()
        self.sealed = True  # nothing is added any more (and the set now pickles)

    def disk_duplicates(self) -> list[tuple[int, str | None]]:
        """(line, record id) of each key on disk that an earlier key on disk repeats (the overflow
        holds only keys in neither the runs nor the set, so it repeats only its own)."""
        return [(line, rid) for _, line, rid in repeats(self.overflow)]

    def not_on_disk(self, keys: Buckets) -> set[Key]:
        """Of the keys in ``keys`` (spread as the overflow is), those the overflow does not hold."""
        return absent(keys, self.overflow)

    def load_rest(self) -> set[Key]:
        """The first SET_LIMIT keys out of order (the overflow has the others)."""
        if self.rest_file is None:
            return self.rest
        rest: set[Key] = set()
        with self.rest_file.open("rb") as fh:
            for chunk in marshalled(fh):
                rest.update(chunk)
        return rest


def _drained(keys: set[Key]) -> Iterator[list[Key]]:
    """``keys`` emptied :data:`CHUNK` at a time, so a write holds one chunk more, not two sets."""
    while keys:
        yield [keys.pop() for _ in range(min(CHUNK, len(keys)))]


def as_runs(keys: set[Key]) -> tuple[list[int], list[int], set[Key]]:
    """``keys`` as runs of consecutive integers (starts, ends) and the keys that are not integers."""
    try:
        numbers = sorted(keys)  # one type only, the usual case: no test per key
        others: set[Key] = set()
    except TypeError:
        numbers = sorted(k for k in keys if k.__class__ is int)
        others = {k for k in keys if k.__class__ is not int}
    if numbers and numbers[0].__class__ is not int:
        return [], [], set(keys)
    if not numbers:
        return [], [], others
    ints: list[int] = numbers  # type: ignore[assignment]
    steps = map(operator.sub, itertools.islice(ints, 1, None), ints)
    breaks = list(itertools.compress(itertools.count(), map(operator.ne, steps, itertools.repeat(1))))
    starts = [ints[0], *(ints[i + 1] for i in breaks)]
    ends = [*(ints[i] for i in breaks), ints[-1]]
    return starts, ends, others


def runs_not_covered(
    starts: list[int], ends: list[int], by_starts: list[int], by_ends: list[int]
) -> list[int]:
    """The integers of the runs (starts, ends) that no run of (by_starts, by_ends) covers."""
    if starts:  # the usual case: one run covers the whole span, so every run inside it
        at = bisect.bisect_right(by_starts, starts[0]) - 1
        if at >= 0 and ends[-1] <= by_ends[at]:
            return []
    missing: list[int] = []
    for start, end in zip(starts, ends, strict=True):
        at = bisect.bisect_right(by_starts, start) - 1
        if at >= 0 and end <= by_ends[at]:
            continue  # the usual case: one run holds the whole run
        missing.extend(not_in_runs(range(start, end + 1), by_starts, by_ends))  # type: ignore[arg-type]
    return missing


def not_in_runs(keys: Iterable[Key], starts: list[int], ends: list[int]) -> list[Key]:
    """The keys no run covers: strings, and integers that fall before, between or after the runs
    (found with bisection over the sorted integers, not a test per key)."""
    keys = list(keys)
    numbers = sorted(k for k in keys if k.__class__ is int)
    missing: list[Key] = [k for k in keys if k.__class__ is not int]
    low = 0
    for start, end in zip(starts, ends, strict=True):
        cut = bisect.bisect_left(numbers, start, low)
        missing.extend(numbers[low:cut])
        low = bisect.bisect_right(numbers, end, cut)
        if low >= len(numbers):
            break
    missing.extend(numbers[low:])
    return missing
