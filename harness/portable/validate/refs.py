"""The references one entity's records make, kept for the dangling check in bounded memory.

Per target entity, the distinct target keys (a set: a million references to a few thousand users
are a few thousand keys), and, in file order, where each reference is: line, record id, field,
target and key, which only a finding needs. Both go to files in the scratch directory once they
hold :data:`HELD_LIMIT` items, and when the entity is read (``seal``), so a worker process hands
the parent paths, not data, and the parent reads them one target at a time.

:func:`dangling` is the check: the distinct keys against the target's :class:`KeySet` (runs by
bisection, the rest by set difference, the overflow by a join on disk), then, only when some key
is missing, one pass over the places to report each reference to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.portable.validate.keys import Key, KeySet, as_runs, not_in_runs, runs_not_covered
from harness.portable.validate.scratch import Buckets, marshalled, write_marshalled

#: Distinct keys plus places held in memory before they are written out (a fixed cap, so memory
#: does not grow with the export).
HELD_LIMIT = 1 << 14

# Distinct keys: runs of consecutive integers (starts, ends) and the other keys.
KeyChunk = tuple[list[int], list[int], set[Key]]
# (line, record id, field, target, key) of one reference.
Place = tuple[int, str | None, str, str, Key]
# (entity, file, line, record id, field, target, target id) of a dangling reference.
Dangling = tuple[str, str, int, str | None, str, str, str]


def _dump_all(path: Path, items: Iterable[Any]) -> None:
    with path.open("ab") as out:
        for item in items:
            write_marshalled(out, item)


def _load_all(path: Path) -> Iterator[Any]:
    if not path.exists():
        return
    with path.open("rb") as fh:
        yield from marshalled(fh)


class RefStore:
    """References made by the records of entity ``name`` (file ``file``); its files are named
    ``prefix`` and a suffix in ``directory``."""

    def __init__(self, directory: Path, prefix: str, name: str, file: str, keep_places: bool = True) -> None:
        self.name, self.file = name, file
        self.directory, self.prefix = directory, prefix
        self.keep_places = keep_places  # False: the places are found again by a rescan if needed
        self.keys: dict[str, set[Key]] = {}  # target -> distinct keys not yet written out
        self.places: list[Place] = []
        self.key_files: dict[str, Path] = {}
        self.places_file = directory / f"{prefix}.places"

    def keys_to(self, target: str) -> set[Key]:
        """The set a reference's key to ``target`` goes into (cleared, never replaced, when written)."""
        found = self.keys.get(target)
        if found is None:
            found = self.keys[target] = set()
            self.key_files[target] = self.directory / f"{self.prefix}.to.{len(self.key_files)}.keys"
        return found

    def add(self, target: str, key: Key, line: int, rid: str | None, field: str) -> None:
        self.keys_to(target).add(key)
        if self.keep_places:
            self.places.append((line, rid, field, target, key))

    def maybe_write(self) -> None:
        if len(self.places) + sum(map(len, self.keys.values())) >= HELD_LIMIT:
            self.write()

    def write(self) -> None:
        for target, keys in self.keys.items():
            if keys:
                _dump_all(self.key_files[target], [as_runs(keys)])
                keys.clear()
        if self.places:
            _dump_all(self.places_file, [self.places])
            self.places.clear()

    def seal(self) -> None:
        self.write()

    def keys_of(self, target: str) -> Iterator[KeyChunk]:
        """The distinct keys of the references to ``target``, in chunks: runs and other keys."""
        path = self.key_files.get(target)
        if path is not None:
            yield from _load_all(path)
        if self.keys.get(target):
            yield as_runs(self.keys[target])

    def all_places(self) -> Iterator[Place]:
        for chunk in _load_all(self.places_file):
            yield from chunk
        yield from self.places


def missing_keys(target: KeySet | None, chunks: Iterable[KeyChunk]) -> set[Key]:
    """The keys in ``chunks`` that are not keys of the target entity. Keys in
    neither its runs nor its set are looked up among its overflow on disk in one pass at the end,
    spread over hash buckets as the overflow is, so memory holds one bucket at a time."""
    if target is None:
        found: set[Key] = set()
        for starts, ends, others in chunks:
            found.update(others)
            found.update(k for s, e in zip(starts, ends, strict=True) for k in range(s, e + 1))
        return found
    rest = target.load_rest()
    missing: set[Key] = set()
    pending: Buckets | None = None
    for starts, ends, others in chunks:
        unknown: list[Key] = [
            *runs_not_covered(starts, ends, target.starts, target.ends),
            *not_in_runs(others - rest if rest else others, target.starts, target.ends),
        ]
        if unknown and rest:
            unknown = [k for k in unknown if k not in rest]
        if unknown and target.on_disk:
            if pending is None:
                pending = Buckets(target.overflow.directory, f"{target.overflow.prefix}.probe")
            pending.extend((k,) for k in unknown)
        else:
            missing.update(unknown)
    if pending is not None:
        pending.write()
        missing |= target.not_on_disk(pending)
    return missing


def dangling(
    stores: list[RefStore],
    keysets: dict[str, KeySet],
    places_of: Callable[[RefStore], Iterable[Place]] = RefStore.all_places,
) -> list[Dangling]:
    """Every reference whose key is no key of its target, ordered by file and line.

    ``places_of`` gives a store's places (those it kept, or a rescan's). A missing key no place
    accounts for (a file changed between the passes) is still reported, once, without a line."""
    targets = sorted({target for store in stores for target in store.key_files})
    missing: dict[str, set[Key]] = {}
    for target in targets:
        chunks = (chunk for store in stores for chunk in store.keys_of(target))
        found = missing_keys(keysets.get(target), chunks)
        if found:
            missing[target] = found
    rows: list[Dangling] = []
    if not missing:
        return rows
    for store in stores:
        if not missing.keys() & store.key_files.keys():
            continue
        unplaced = {(t, key) for t in missing.keys() & store.key_files.keys() for key in missing[t]}
        for line, rid, field, target, key in places_of(store):
            if key in missing.get(target, ()):
                text = key if isinstance(key, str) else str(key)
                rows.append((store.name, store.file, line, rid, field, target, text))
                unplaced.discard((target, key))
        for target, key in sorted(unplaced, key=repr):  # fail closed: never lose a missing key
            if _holds(store.keys_of(target), key):  # the store read it, the rescan did not find it
                text = key if isinstance(key, str) else str(key)
                rows.append((store.name, store.file, 0, None, "", target, text))
    rows.sort(key=lambda row: (row[1], row[2]))  # stable: a record's references stay in order
    return rows


def _holds(chunks: Iterable[KeyChunk], key: Key) -> bool:
    return any(key in others or not not_in_runs([key], starts, ends) for starts, ends, others in chunks)
