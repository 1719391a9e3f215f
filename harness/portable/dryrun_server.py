"""The dry run's compare in the server (harness/portable/dryrun.py), for the harness's own
(version 1) exports with a one-field key: identical means byte-identical to the exporter's rendering.

A batch is a block of whole lines. It is first tried unparsed: its first and last lines name a key
range, and the server returns how many target rows that range holds and one SHA-256 of their
renderings (the exporter's query) joined by newlines; equal to the block's count and digest, every
line is the rendering of its own target row (:func:`settled_by_lines`). Otherwise the lines are
parsed for their keys and go to the server as keys (a key range when they are ascending integers, as
the exporter writes them): the range digest again settles an identical or empty range with two
numbers, any other batch is compared row by row, as the SHA-256 of each line. No target row travels
back. Several connections, all reading one exported snapshot in READ ONLY transactions, take batches
in turn while a thread reads the next ones (and parses them ahead while batches are not settled
unparsed).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from queue import Full, Queue
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import sql

from harness.files import whole_lines
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

T = TypeVar("T")
#: A range digest: the key range asked, the rows it held (at most the batch's size + 1) and their
#: joined renderings' SHA-256.
Digest = tuple[tuple[type, str, str], int, bytes | None]


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


def parse_batch(lines: list[bytes], pk: str, invalid: set[str]) -> Batch:
    """A batch of lines parsed for their keys (``pk``); unparsable lines, lines without a usable
    key and ``invalid`` keys are counted, not compared."""
    loads = orjson.loads
    bad = 0
    wanted: dict[str, bytes] = {}  # a repeated key: the last record wins, as the upsert's would
    values: list[Any] = []
    for raw in lines:
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
    return ready


@dataclass
class Reading:
    """How one entity's batches are read: its key field, the keys validation flagged, whether its
    key column's type lets a range digest settle a batch (``Queries.digest_keys``), and whether the
    reader parses each batch ahead (always, unless batches may be settled by their lines' digest)."""

    pk: str
    invalid: set[str]
    digests: bool = True
    parse_ahead: bool = False

    def __post_init__(self) -> None:
        self.parse_ahead = self.parse_ahead or not self.by_lines

    @property
    def by_lines(self) -> bool:
        """Whether a batch is first tried unparsed, by its lines' digest (never when validation
        flagged keys of the entity: those must be left out by key)."""
        return self.digests and not self.invalid

    def parse(self, lines: list[bytes]) -> Batch:
        return parse_batch(lines, self.pk, self.invalid)


class Work:
    """One batch as read: the whole lines at the start of a block (``block[:end]``, each ending in
    a newline); ``parsed`` when the reader parsed it ahead. The lines are split only when asked."""

    def __init__(self, block: bytes, end: int, parsed: Batch | None = None) -> None:
        self.block, self.end, self.parsed = block, end, parsed

    @functools.cached_property
    def count(self) -> int:
        return self.block.count(b"\n", 0, self.end)

    @functools.cached_property
    def lines(self) -> list[bytes]:
        return whole_lines(self.block)

    @functools.cached_property
    def joined_digest(self) -> bytes:
        """The SHA-256 of the lines joined by newlines: the whole lines without the last newline."""
        return hashlib.sha256(memoryview(self.block)[: self.end - 1]).digest()

    def prepare(self) -> None:
        """Count and hash the lines now (in the reader's thread, while the connections wait on the
        server), so a connection that takes this batch asks the server at once."""
        _ = self.count, self.joined_digest

    def span(self, pk: str) -> tuple[type, str, str] | None:
        """The key range the lines claim: the first and last record's keys, when both are integers
        or both strings. Only a guess of which target rows to digest: any line between may say
        otherwise, and then the digests differ."""
        block, end = self.block, self.end
        try:
            first = orjson.loads(block[: block.index(b"\n")]).get(pk)
            last = orjson.loads(block[block.rfind(b"\n", 0, end - 1) + 1 : end - 1]).get(pk)
        except (orjson.JSONDecodeError, AttributeError):
            return None
        kind = type(first)
        if kind not in (int, str) or type(last) is not kind:
            return None
        return kind, str(first), str(last)


def read(blocks: Iterator[tuple[bytes, int]], reading: Reading) -> Iterator[Work]:
    """Each block of lines, parsed ahead while :attr:`Reading.parse_ahead` says so, else counted and
    hashed ahead for :func:`settled_by_lines`."""
    for block, end in blocks:
        work = Work(block, end)
        if reading.parse_ahead:
            work.parsed = reading.parse(work.lines)
        elif reading.by_lines:
            work.prepare()
        yield work


def ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` produced by a thread up to ``depth`` ahead, so the next batches are parsed while the
    server compares (the parser holds the GIL; a waiting connection does not)."""
    queue: Queue[T | BaseException | None] = Queue(maxsize=depth)
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


def range_digest(
    conn: psycopg.Connection[Any], queries: Queries, span: tuple[type, str, str], size: int
) -> Digest:
    """The target's rows in the key range ``span``: how many (at most ``size + 1``) and the SHA-256
    of their renderings joined by newlines, in key order."""
    _, low, high = span
    row = conn.execute(queries.range_digest, {"low": low, "high": high, "cap": size + 1}).fetchone()
    return span, (int(row[0]) if row else -1), (bytes(row[1]) if row and row[1] is not None else None)


def joined_digest(lines: Iterable[bytes]) -> bytes:
    return hashlib.sha256(b"\n".join(lines)).digest()


def settled_by_lines(
    conn: psycopg.Connection[Any], queries: Queries, work: Work, pk: str
) -> int | Digest | None:
    """The batch's size when the key range its first and last lines name holds exactly its lines,
    byte for byte, read without parsing them (exact as in :func:`same_range`: the digests prove
    each line is the rendering of its own distinct row, whatever the keys the lines were read for);
    else the range's digest, for :func:`same_range` to reuse (None: the lines name no range)."""
    span = work.span(pk)
    if span is None or queries.digest_keys is not span[0]:
        return None
    digest = range_digest(conn, queries, span, work.count)
    if digest[1] == work.count and digest[2] == work.joined_digest:
        return work.count
    return digest


def same_range(
    conn: psycopg.Connection[Any], queries: Queries, batch: Batch, known: Digest | None = None
) -> int | None:
    """The batch's size when its key range holds exactly the batch's records, byte for byte; 0 when
    the range of integer keys holds no target row; None when it must be compared row by row.
    ``known``: a digest of some key range already taken (reused when it is the batch's range).

    Exact: a record's line holds no newline, so equal counts and equal digests of the lines and of
    the renderings joined by newlines mean that each line equals the rendering of its own row of
    the range, and the range holds no other row. With a key column of ``_DIGEST_KEY_TYPES`` a
    rendering names its row's key as the client reads it, so each record has an identical target
    row under its key. Only integer keys are ordered in the client as in the column, so only a range
    of them that holds no row proves that none of its keys is in the target."""
    if batch.span is None or queries.digest_keys is not batch.span[0]:
        return None
    wanted = len(batch.wanted)
    if known is not None and known[0] == batch.span:
        digest = known  # counted with a cap of at least wanted + 1: any count above wanted settles nothing
    else:
        digest = range_digest(conn, queries, batch.span, wanted)
    _, count, rendered = digest
    if count == 0 and batch.span[0] is int:
        return 0
    if count == wanted and rendered == joined_digest(batch.wanted.values()):
        return wanted
    return None


def compare(
    conn: psycopg.Connection[Any], queries: Queries, batch: Batch, known: Digest | None = None
) -> tuple[int, int]:
    """(identical, differing) records of one batch: the range digest when it settles the batch,
    else row by row over the key range (capped at twice the batch), else key by key."""
    same = same_range(conn, queries, batch, known)
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


def shared(
    conns: list[psycopg.Connection[Any]], works: Iterator[Work], queries: Queries, reading: Reading
) -> Counts:
    """Compare every batch, each connection in its own thread taking the next one, and sum. A batch
    not parsed ahead is first tried by its lines' digest (:func:`settled_by_lines`, where
    :attr:`Reading.by_lines`) and parsed only when that does not settle it."""
    lock, failed = threading.Lock(), threading.Event()
    by_lines = reading.by_lines

    def one(conn: psycopg.Connection[Any], work: Work, part: Counts) -> None:
        known = None
        if work.parsed is None and by_lines:
            settled = settled_by_lines(conn, queries, work, reading.pk)
            if isinstance(settled, int):
                part.skipped += settled
                return
            known = settled
        batch = work.parsed or reading.parse(work.lines)
        part.invalid += batch.invalid
        if batch.wanted:
            same, differ = compare(conn, queries, batch, known)
            part.skipped += same
            part.would_update += differ
            part.would_insert += len(batch.wanted) - same - differ
            reading.parse_ahead = not by_lines or same < len(batch.wanted) or batch.invalid > 0

    def work(conn: psycopg.Connection[Any]) -> Counts:
        part = Counts()
        try:
            while not failed.is_set():
                with lock:
                    item = next(works, None)
                if item is None:
                    break
                one(conn, item, part)
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
