"""On-disk index of record ids and references (SQLite), so duplicate and dangling checks
need no memory proportional to the export."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

_BATCH = 20_000


class RecordIndex:
    """On-disk id/reference index for duplicate and relationship checks."""

    def __init__(self, directory: Path, name: str = "index.sqlite3") -> None:
        self.path = directory / name
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.executescript(
            """
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;
            CREATE TABLE ids (entity TEXT, id TEXT, line INTEGER);
            CREATE TABLE refs (entity TEXT, file TEXT, line INTEGER, record_id TEXT, field TEXT,
                               target TEXT, target_id TEXT);
            """
        )
        self.ids: list[tuple[str, str, int]] = []
        self.refs: list[tuple[str, str, int, str | None, str, str, str]] = []

    def flush(self) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO ids VALUES (?, ?, ?)", self.ids)
        self.db.executemany("INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?)", self.refs)
        self.db.execute("COMMIT")
        self.ids.clear()
        self.refs.clear()

    def maybe_flush(self) -> None:
        if len(self.ids) + len(self.refs) >= _BATCH:
            self.flush()

    def absorb(self, other: Path) -> None:
        """Copy the ids and references another (closed) index file holds into this one."""
        self.flush()
        self.db.execute("ATTACH DATABASE ? AS other", (str(other),))
        self.db.execute("BEGIN")
        self.db.execute("INSERT INTO ids SELECT * FROM other.ids")
        self.db.execute("INSERT INTO refs SELECT * FROM other.refs")
        self.db.execute("COMMIT")
        self.db.execute("DETACH DATABASE other")

    def duplicates(self) -> Iterator[tuple[str, str, int]]:
        self.flush()
        self.db.execute("CREATE INDEX ids_key ON ids (entity, id)")
        yield from self.db.execute(
            """SELECT i.entity, i.id, i.line FROM ids i
               JOIN (SELECT entity, id, min(line) AS first FROM ids GROUP BY entity, id HAVING count(*) > 1) d
                 ON d.entity = i.entity AND d.id = i.id AND i.line > d.first
               ORDER BY i.entity, i.line"""
        )

    def dangling(self) -> Iterator[tuple[str, str, int, str | None, str, str, str]]:
        yield from self.db.execute(
            """SELECT r.entity, r.file, r.line, r.record_id, r.field, r.target, r.target_id FROM refs r
               WHERE NOT EXISTS (SELECT 1 FROM ids i WHERE i.entity = r.target AND i.id = r.target_id)
               ORDER BY r.file, r.line"""
        )

    def close(self) -> None:
        self.db.close()
