"""The index of record ids and references, so duplicate and dangling checks need no memory
proportional to the export.

Ids go to one :class:`~harness.portable.validate.keys.KeySet` per entity (ascending integer runs,
then a bounded set, then hash buckets on disk, ``scratch.Buckets``) and references to one
:class:`~harness.portable.validate.refs.RefStore` per entity (distinct target keys plus, on disk,
where each reference is); duplicates are found as the ids are read, dangling references by one
set-wise pass per target entity. What only version-2 contracts use stays in SQLite, on disk:
composite unique keys (``uniq``), the facts of cross-record rules (``facts``) and the references
those rules count (``refs``).

A worker process indexes one entity file and hands the parent an :class:`IndexPart` (file paths
and the few numbers of the runs); the parent's index absorbs the parts in contract order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.portable.validate import refs as refs_module
from harness.portable.validate.keys import KeySet, key_of_text
from harness.portable.validate.refs import Dangling, Place, RefStore
from harness.portable.validate.scratch import Buckets

__all__ = ["IndexPart", "RecordIndex"]

_BATCH = 20_000


@dataclass
class IndexPart:
    """What a worker's index hands the parent: its SQLite file, key sets and reference stores."""

    path: Path
    keysets: dict[str, KeySet]
    stores: dict[str, RefStore]


class RecordIndex:
    """Id/reference index for duplicate, relationship, unique and cross-record checks.

    ``rule_fields`` are the ``(entity, field)`` references that cross-record rules count; those
    references also go to the SQLite ``refs`` table :meth:`rule_violations` queries."""

    def __init__(
        self,
        directory: Path,
        name: str = "index.sqlite3",
        rule_fields: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.directory = directory
        self.path = directory / name
        self.rule_fields = rule_fields
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;
            CREATE TABLE refs (entity TEXT, file TEXT, line INTEGER, record_id TEXT, field TEXT,
                               target TEXT, target_id TEXT);
            CREATE TABLE uniq (entity TEXT, constraint_no INTEGER, key TEXT, line INTEGER, record_id TEXT);
            CREATE TABLE facts (rule TEXT, entity TEXT, id TEXT, line INTEGER, value INTEGER);
            """
        )
        self.keysets: dict[str, KeySet] = {}
        self.stores: dict[str, RefStore] = {}
        #: Whether reference stores keep every reference's place; when not, ``rescan(entity)``
        #: gives an entity's places again (read from its file) for the dangling check.
        self.keep_places = True
        self.rescan: Callable[[str], Iterable[Place]] | None = None
        self.refs: list[tuple[str, str, int, str | None, str, str, str]] = []  # references rules count
        self.uniq: list[tuple[str, int, str, int, str | None]] = []  # composite unique constraints
        self.facts: list[tuple[str, str, str, int, int]] = []  # what cross-record rules compare

    # -- while the files are read -------------------------------------------------------------

    def keyset(self, entity: str) -> KeySet:
        found = self.keysets.get(entity)
        if found is None:
            overflow = Buckets(self.directory, f"{self.path.stem}.{len(self.keysets)}.{entity}.overflow")
            found = self.keysets[entity] = KeySet(overflow)
        return found

    def add_id(self, entity: str, rid: str, line: int) -> None:
        """An id read on ``line`` (a duplicate of an earlier one is kept for :meth:`duplicates`)."""
        self.keyset(entity).add(key_of_text(rid), line, rid)

    def store(self, entity: str, file: str) -> RefStore:
        found = self.stores.get(entity)
        if found is None:
            prefix = f"{self.path.stem}.{len(self.stores)}"
            found = self.stores[entity] = RefStore(self.directory, prefix, entity, file, self.keep_places)
        return found

    def add_ref(
        self, entity: str, file: str, line: int, rid: str | None, field: str, target: str, target_id: str
    ) -> None:
        """A reference from ``entity``'s record on ``line`` to ``target``'s id ``target_id``."""
        self.store(entity, file).add(target, key_of_text(target_id), line, rid, field)
        if (entity, field) in self.rule_fields:
            self.refs.append((entity, file, line, rid, field, target, target_id))

    def flush(self) -> None:
        if self.refs or self.uniq or self.facts:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?)", self.refs)
            self.db.executemany("INSERT INTO uniq VALUES (?, ?, ?, ?, ?)", self.uniq)
            self.db.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?)", self.facts)
            self.db.execute("COMMIT")
            self.refs.clear()
            self.uniq.clear()
            self.facts.clear()

    def maybe_flush(self) -> None:
        if len(self.refs) + len(self.uniq) + len(self.facts) >= _BATCH:
            self.flush()
        for store in self.stores.values():
            store.maybe_write()

    def finish(self, entity: str) -> None:
        """``entity``'s file is read: duplicates among its ids on disk are found (in the worker that
        read it), and its ids and references leave memory for files."""
        self.flush()
        if entity in self.keysets:
            keyset = self.keysets[entity]
            if keyset.on_disk:
                keyset.duplicates.extend(keyset.disk_duplicates())
            keyset.seal(self.directory / f"{self.path.stem}.{len(self.keysets)}.{entity}.ids")
        if entity in self.stores:
            self.stores[entity].seal()

    def part(self) -> IndexPart:
        self.flush()
        return IndexPart(self.path, self.keysets, self.stores)

    def absorb(self, part: IndexPart) -> None:
        """Take over what another (closed) index holds."""
        self.flush()
        self.keysets.update(part.keysets)
        self.stores.update(part.stores)
        self.db.execute("ATTACH DATABASE ? AS other", (str(part.path),))
        self.db.execute("BEGIN")
        for table in ("refs", "uniq", "facts"):
            self.db.execute(f"INSERT INTO {table} SELECT * FROM other.{table}")
        self.db.execute("COMMIT")
        self.db.execute("DETACH DATABASE other")

    # -- the checks ---------------------------------------------------------------------------

    def duplicates(self) -> Iterator[tuple[str, str, int]]:
        """(entity, record id, line) of each record whose id an earlier record of the entity has
        (those on disk found by :meth:`finish`, or here for an entity not finished)."""
        self.flush()
        rows = [
            (entity, rid, line)
            for entity, keyset in self.keysets.items()
            for line, rid in (
                keyset.duplicates
                if keyset.rest_file is not None or not keyset.on_disk
                else [*keyset.duplicates, *keyset.disk_duplicates()]
            )
            if rid is not None
        ]
        rows.sort(key=lambda row: (row[0], row[2]))
        yield from rows

    def dangling(self) -> Iterator[Dangling]:
        """References to ids no entity file holds, ordered by file and line."""
        self.flush()
        for store in self.stores.values():
            store.seal()
        yield from refs_module.dangling(list(self.stores.values()), self.keysets, self._places_of)

    def _places_of(self, store: RefStore) -> Iterable[Place]:
        if store.keep_places:
            return store.all_places()
        if self.rescan is None:
            raise RuntimeError(f"no places kept for {store.name} and no rescan to find them")
        return self.rescan(store.name)

    def unique_violations(self) -> Iterator[tuple[str, int, str, int, str | None]]:
        """Records whose composite unique key repeats an earlier record's (entity, constraint, key,
        line, record id)."""
        self.flush()
        yield from self.db.execute(
            """SELECT u.entity, u.constraint_no, u.key, u.line, u.record_id FROM uniq u
               JOIN (SELECT entity, constraint_no, key, min(line) AS first FROM uniq
                     GROUP BY entity, constraint_no, key HAVING count(*) > 1) d
                 ON d.entity = u.entity AND d.constraint_no = u.constraint_no AND d.key = u.key
                AND u.line > d.first
               ORDER BY u.entity, u.line"""
        )

    def rule_violations(
        self, rule: str, child: str, field: str, target: str, *, count: bool
    ) -> Iterator[tuple[str, int, int, int]]:
        """(id, line, value, references) of the records a cross-record rule fails: ``count`` rules
        where the fact differs from the number of ``child.field`` references to the record,
        ``requires`` rules where no such reference exists."""
        self.flush()
        self.db.execute("CREATE INDEX IF NOT EXISTS refs_to ON refs (target, target_id, entity, field)")
        compare = "c != f.value" if count else "c = 0"
        yield from self.db.execute(
            f"""SELECT id, line, value, c FROM (
                  SELECT f.id, f.line, f.value,
                         (SELECT count(*) FROM refs r WHERE r.target = ? AND r.target_id = f.id
                            AND r.entity = ? AND r.field = ?) AS c
                  FROM facts f WHERE f.rule = ?) AS f
               WHERE {compare} ORDER BY line""",
            (target, child, field, rule),
        )

    def close(self) -> None:
        self.db.close()
