"""The dry run's compare in the server (harness/portable/dryrun.py), for the harness's own
(version 1) exports with a one-field key: identical means byte-identical to the exporter's rendering.

Each batch of records goes to the server as keys (a key range when they are ascending integers, as
the exporter writes them); the server renders the target's rows with the exporter's query and
compares, so no target row travels back. A key range is first compared as one digest of the whole
batch, which settles an identical (or empty) range with two numbers; any other batch is compared
row by row, as the SHA-256 of each line. Several connections, all reading one exported snapshot in
READ ONLY transactions, take batches in turn while a thread parses the next ones.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from queue import Full, Queue
from typing import Any

import orjson
import psycopg
from psycopg import sql

from harness.portable.contract import Contract, Entity
from harness.portable.export import entity_query
from harness.postgres.database import Database

#: Per batch, row by row: how many of the batch's records exist in the target with the same
#: canonical JSON (their SHA-256 equal), how many exist and differ, and how many target rows were
#: rendered. Only three numbers come back; MATERIALIZED renders and hashes each row once.
_ROWS = """
WITH t AS MATERIALIZED (SELECT q.key, sha256(convert_to(q.doc, 'UTF8')) AS digest FROM ({}) AS q(key, doc))
SELECT count(*) FILTER (WHERE e.digest = t.digest), count(*) FILTER (WHERE e.digest <> t.digest),
       (SELECT count(*) FROM t)
FROM (SELECT k.key, substring(%(digests)s::bytea FROM (k.n::int - 1) * 32 + 1 FOR 32) AS digest
      FROM jsonb_array_elements_text(%(keys)s::jsonb) WITH ORDINALITY AS k(key, n)) AS e
JOIN t USING (key)
"""

#: Per batch of ascending keys, at once: how many target rows its key range holds (at most ``cap``)
#: and the SHA-256 of their renderings joined by newlines, in the order the range scan reads them
#: (key order). Two numbers come back and no row is hashed alone; a match is exact whatever the
#: order (see :func:`same_range`), another order only sends the batch row by row.
_RANGE_DIGEST = """
SELECT count(*), sha256(convert_to(string_agg(q.doc, E'\\n'), 'UTF8')) FROM ({}) AS q(key, doc)
"""

#: Key column types whose JSON rendering, read back, is the column's text (the key the lookups join
#: on), so a range digest that matches proves every record identical; the value: which keys' order
#: in the client is the column's order (integers; canonical uuid text only up to case, so uuid keys
#: never take the empty-range shortcut).
_DIGEST_KEY_TYPES = {"int2": int, "int4": int, "int8": int, "uuid": str}


@dataclass
class Batch:
    """One batch of an export file, ready to be compared: its invalid records counted, the rest by
    key. ``low``/``high``: the first and last key when the keys are ascending integers (the lines
    then in key order); ``span``: the same for keys ascending as integers or as strings."""

    invalid: int
    wanted: dict[str, bytes]
    low: str | None = None
    high: str | None = None
    span: tuple[type, str, str] | None = None

    def params(self) -> dict[str, Any]:
        """The row-by-row compare's parameters: the keys and the SHA-256 of each record's line."""
        sha256 = hashlib.sha256
        return {
            "keys": orjson.dumps(list(self.wanted)).decode(),
            "digests": b"".join(sha256(raw).digest() for raw in self.wanted.values()),
        }


def prepared(batches: Iterator[list[bytes]], pk: str, invalid: set[str]) -> Iterator[Batch]:
    """Each batch of lines parsed for its keys (``pk``); unparsable lines, lines without a usable
    key and ``invalid`` keys are counted, not compared."""
    loads = orjson.loads
    for batch in batches:
        bad = 0
        wanted: dict[str, bytes] = {}  # a repeated key: the last record wins, as the upsert's would
        values: list[Any] = []
        for raw in batch:
            try:
                value = loads(raw).get(pk)
            except (orjson.JSONDecodeError, AttributeError):
                value = None
            rid = str(value) if type(value) is int or type(value) is str else None  # key_text, inlined
            if rid is None or rid in invalid:
                bad += 1
            else:
                wanted[rid] = raw
                values.append(value)
        ready = Batch(bad, wanted)
        if wanted and len(values) == len(wanted):
            kind = type(values[0])
            if all(type(v) is kind for v in values) and all(a < b for a, b in itertools.pairwise(values)):
                ready.span = (kind, str(values[0]), str(values[-1]))
                if kind is int:
                    ready.low, ready.high = ready.span[1:]
        yield ready


def ahead(items: Iterator[Batch], depth: int = 2) -> Iterator[Batch]:
    """``items`` produced by a thread up to ``depth`` ahead, so the next batches are parsed while the
    server compares (the parser holds the GIL; a waiting connection does not)."""
    queue: Queue[Batch | BaseException | None] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(item, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(None)
        except BaseException as exc:  # handed to the consumer, raised there
            queue.put(exc)

    worker = threading.Thread(target=produce, name="dry-run-reader", daemon=True)
    worker.start()
    try:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


@dataclass(frozen=True)
class Queries:
    """One entity's server-side compares: row by row by keys or by key range, and the range digest,
    for batches of ``digest_keys`` (None: the key column's type is not in ``_DIGEST_KEY_TYPES``)."""

    by_key: sql.Composed
    by_range: sql.Composed
    range_digest: sql.Composed
    digest_keys: type | None

    @classmethod
    def of(cls, conn: psycopg.Connection[Any], contract: Contract, ent: Entity) -> Queries:
        ranged = entity_query(conn, ent, contract, lookup="range")
        key = sql.Identifier(ent.column(ent.key_fields[0]))
        table = sql.Identifier(*str(ent.table).split("."))
        cur = conn.execute(sql.SQL("SELECT {} FROM {} LIMIT 0").format(key, table))
        info = psycopg.postgres.types.get(cur.description[0].type_code) if cur.description else None
        return cls(
            sql.SQL(_ROWS).format(entity_query(conn, ent, contract, lookup="keys")),
            sql.SQL(_ROWS).format(ranged),
            sql.SQL(_RANGE_DIGEST).format(ranged),
            _DIGEST_KEY_TYPES.get(info.name) if info else None,
        )


def same_range(conn: psycopg.Connection[Any], queries: Queries, batch: Batch) -> int | None:
    """The batch's size when its key range holds exactly the batch's records, byte for byte; 0 when
    the range of integer keys holds no target row; None when it must be compared row by row.

    Exact: a record's line holds no newline, so equal counts and equal digests of the lines and of
    the renderings joined by newlines mean that each line equals the rendering of its own row of
    the range, and the range holds no other row. With a key column of ``_DIGEST_KEY_TYPES`` a
    rendering names its row's key as the client reads it, so each record has an identical target
    row under its key. Only integer keys are ordered in the client as in the column, so only a range
    of them that holds no row proves that none of its keys is in the target."""
    if batch.span is None or queries.digest_keys is not batch.span[0]:
        return None
    kind, low, high = batch.span
    wanted = len(batch.wanted)
    row = conn.execute(queries.range_digest, {"low": low, "high": high, "cap": wanted + 1}).fetchone()
    count = int(row[0]) if row else -1
    if count == 0 and kind is int:
        return 0
    if count == wanted and row and row[1] == hashlib.sha256(b"\n".join(batch.wanted.values())).digest():
        return wanted
    return None


def compare(conn: psycopg.Connection[Any], queries: Queries, batch: Batch) -> tuple[int, int]:
    """(identical, differing) records of one batch: the range digest when it settles the batch,
    else row by row over the key range (capped at twice the batch), else key by key."""
    same = same_range(conn, queries, batch)
    if same is not None:
        return same, 0
    params = batch.params()
    row = None
    if batch.low is not None:
        cap = 2 * len(batch.wanted)
        ranged = {**params, "low": batch.low, "high": batch.high, "cap": cap}
        row = conn.execute(queries.by_range, ranged).fetchone()
        if row is not None and int(row[2]) >= cap:
            row = None  # the range holds more rows than the cap: some may have been cut off
    if row is None:
        row = conn.execute(queries.by_key, params).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


@dataclass
class Counts:
    """What an import of one entity's records would do (see harness/portable/dryrun.py)."""

    would_insert: int = 0
    would_update: int = 0
    skipped: int = 0
    invalid: int = 0

    def add(self, other: Counts) -> None:
        self.would_insert += other.would_insert
        self.would_update += other.would_update
        self.skipped += other.skipped
        self.invalid += other.invalid


def shared(conns: list[psycopg.Connection[Any]], batches: Iterator[Batch], queries: Queries) -> Counts:
    """Compare every batch, each connection in its own thread taking the next one, and sum."""
    lock, failed = threading.Lock(), threading.Event()

    def work(conn: psycopg.Connection[Any]) -> Counts:
        part = Counts()
        try:
            while not failed.is_set():
                with lock:
                    batch = next(batches, None)
                if batch is None:
                    break
                part.invalid += batch.invalid
                if batch.wanted:
                    same, differ = compare(conn, queries, batch)
                    part.skipped += same
                    part.would_update += differ
                    part.would_insert += len(batch.wanted) - same - differ
        except BaseException:
            failed.set()  # the other connections stop after their batch
            raise
        return part

    total = Counts()
    with ThreadPoolExecutor(max_workers=max(1, len(conns) - 1), thread_name_prefix="dry-run") as pool:
        futures = [pool.submit(work, conn) for conn in conns[1:]]
        try:
            total.add(work(conns[0]))
        finally:
            wait(futures)
        for future in futures:
            total.add(future.result())
    return total


def readers(db: Database, stack: ExitStack, count: int) -> list[psycopg.Connection[Any]]:
    """``count`` connections, each in a REPEATABLE READ READ ONLY transaction, all reading the
    first one's snapshot (``pg_export_snapshot``; it lives while the first transaction is open)."""
    first = stack.enter_context(db.connect())
    first.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    conns = [first]
    if count > 1:
        row = first.execute("SELECT pg_export_snapshot()").fetchone()
        snapshot = sql.Literal(row[0] if row else "")
        for _ in range(count - 1):
            conn = stack.enter_context(db.connect())
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(snapshot))
            conns.append(conn)
    return conns
