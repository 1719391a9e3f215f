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
            CREATE TABLE uniq (entity TEXT, constraint_no INTEGER, key TEXT, line INTEGER, record_id TEXT);
            CREATE TABLE facts (rule TEXT, entity TEXT, id TEXT, line INTEGER, value INTEGER);
            """
        )
        self.ids: list[tuple[str, str, int]] = []
        self.refs: list[tuple[str, str, int, str | None, str, str, str]] = []
        self.uniq: list[tuple[str, int, str, int, str | None]] = []  # composite unique constraints
        self.facts: list[tuple[str, str, str, int, int]] = []  # what cross-record rules compare

    def flush(self) -> None:
        self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO ids VALUES (?, ?, ?)", self.ids)
        self.db.executemany("INSERT INTO refs VALUES (?, ?, ?, ?, ?, ?, ?)", self.refs)
        self.db.executemany("INSERT INTO uniq VALUES (?, ?, ?, ?, ?)", self.uniq)
        self.db.executemany("INSERT INTO facts VALUES (?, ?, ?, ?, ?)", self.facts)
        self.db.execute("COMMIT")
        self.ids.clear()
        self.refs.clear()
        self.uniq.clear()
        self.facts.clear()

    def maybe_flush(self) -> None:
        if len(self.ids) + len(self.refs) + len(self.uniq) + len(self.facts) >= _BATCH:
            self.flush()

    def absorb(self, other: Path) -> None:
        """Copy the ids and references another (closed) index file holds into this one."""
        self.flush()
        self.db.execute("ATTACH DATABASE ? AS other", (str(other),))
        self.db.execute("BEGIN")
        self.db.execute("INSERT INTO ids SELECT * FROM other.ids")
        self.db.execute("INSERT INTO refs SELECT * FROM other.refs")
        self.db.execute("INSERT INTO uniq SELECT * FROM other.uniq")
        self.db.execute("INSERT INTO facts SELECT * FROM other.facts")
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
