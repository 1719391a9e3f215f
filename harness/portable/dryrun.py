"""Dry-run import: what an import would do to a target, proven to write nothing.

Records are read from the export in batches and compared with the target's
rows rendered by the exporter's own query (same field order, same timestamp
format). For the harness's own (version 1) export "identical" means byte-identical canonical
JSON and the comparison runs in the server: each batch sends keys and the SHA-256 of each line, and
only counts come back. A version-2 export (possibly another writer's) is compared in the client,
both sides in canonical form (harness/portable/compare.py):

* would_insert: the primary key is not in the target;
* would_update: the key exists and the record differs;
* skipped: the key exists and the record is identical;
* invalid: validation flagged the record; it would not be imported.

Everything runs in one READ ONLY transaction. The proof of zero writes is
checked, not assumed: the server confirms the transaction was read-only, no
transaction id was ever assigned (PostgreSQL assigns one on the first write),
and the target's per-table insert/update/delete counters and live row
estimates are identical before and after.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import Any

import orjson
import psycopg
from psycopg import sql

from harness.errors import ConfigError
from harness.portable.compare import canonical
from harness.portable.contract import Contract, Entity
from harness.portable.export import entity_query
from harness.portable.validate.findings import ValidationReport
from harness.postgres.database import Database

BATCH = 5_000
_BLOCK = 1 << 20


@dataclass
class EntityPlan:
    entity: str
    would_insert: int = 0
    would_update: int = 0
    skipped: int = 0
    invalid: int = 0

    def to_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "entity"}


@dataclass
class DryRunResult:
    target: dict[str, Any]
    entities: list[EntityPlan] = field(default_factory=list)
    proof: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def total(self, key: str) -> int:
        return sum(int(getattr(e, key)) for e in self.entities)

    @property
    def zero_writes_proven(self) -> bool:
        return bool(self.proof.get("proven"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "would_insert": self.total("would_insert"),
            "would_update": self.total("would_update"),
            "skipped": self.total("skipped"),
            "invalid": self.total("invalid"),
            "per_entity": {e.entity: e.to_dict() for e in self.entities},
            "zero_write_proof": self.proof,
            "seconds": round(self.seconds, 3),
        }


def iter_batches(path: Path, size: int = BATCH) -> Iterator[list[bytes]]:
    """The file's lines (without the newline) in batches, read in large blocks."""
    rest = b""
    batch: list[bytes] = []
    with path.open("rb") as fh:
        while block := fh.read(_BLOCK):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            batch.extend(lines)
            while len(batch) >= size:
                yield batch[:size]
                del batch[:size]
    if rest:
        batch.append(rest)
    if batch:
        yield batch


def table_stats(db: Database, tables: list[str]) -> dict[str, dict[str, int]]:
    """Per-table write counters, read from a fresh session after forcing a stats flush."""
    with db.connect(autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            """SELECT relname, n_tup_ins, n_tup_upd, n_tup_del, n_live_tup
               FROM pg_stat_user_tables WHERE relname = ANY(%s) ORDER BY relname""",
            [tables],
        ).fetchall()
    return {r[0]: {"ins": r[1], "upd": r[2], "del": r[3], "live": r[4]} for r in rows}


#: Per batch: how many of the batch's records exist in the target with the same canonical JSON
#: (their SHA-256 equal), how many exist and differ, and how many target rows were rendered. Only
#: three numbers come back; MATERIALIZED renders and hashes each row once.
_COMPARE = """
WITH t AS MATERIALIZED (SELECT q.key, sha256(convert_to(q.doc, 'UTF8')) AS digest FROM ({}) AS q(key, doc))
SELECT count(*) FILTER (WHERE e.digest = t.digest), count(*) FILTER (WHERE e.digest <> t.digest),
       (SELECT count(*) FROM t)
FROM (SELECT k.key, substring(%(digests)s::bytea FROM (k.n::int - 1) * 32 + 1 FOR 32) AS digest
      FROM jsonb_array_elements_text(%(keys)s::jsonb) WITH ORDINALITY AS k(key, n)) AS e
JOIN t USING (key)
"""


def _ascending_integers(values: list[Any]) -> bool:
    return all(type(v) is int for v in values) and all(a < b for a, b in itertools.pairwise(values))


@dataclass
class _Batch:
    """One batch of an export file, ready to be compared: its invalid records counted, the rest as
    query parameters (``low``/``high`` set when the keys are ascending integers)."""

    invalid: int
    wanted: int
    params: dict[str, Any]
    low: str | None = None
    high: str | None = None


def _prepared(path: Path, pk: str, invalid: set[str]) -> Iterator[_Batch]:
    loads, sha256 = orjson.loads, hashlib.sha256
    for batch in iter_batches(path, BATCH):
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
        params: dict[str, Any] = {
            "keys": orjson.dumps(list(wanted)).decode(),
            "digests": b"".join(sha256(raw).digest() for raw in wanted.values()),
        }
        prepared = _Batch(bad, len(wanted), params)
        if wanted and len(values) == len(wanted) and _ascending_integers(values):
            prepared.low, prepared.high = str(values[0]), str(values[-1])
        yield prepared


def _ahead(items: Iterator[_Batch], depth: int = 2) -> Iterator[_Batch]:
    """``items`` produced by a thread up to ``depth`` ahead, so the next batch is parsed while the
    server compares this one (the parser holds the GIL; the waiting connection does not)."""
    queue: Queue[_Batch | BaseException | None] = Queue(maxsize=depth)
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


def _plan_entity(
    conn: psycopg.Connection[Any], contract: Contract, ent: Entity, export_dir: Path, invalid: set[str]
) -> EntityPlan:
    """Compare the entity's records with the target in the server: the client sends each batch's
    keys and the SHA-256 of each record's line; the server renders the existing rows with the
    exporter's query and compares digests, so no target row travels back or is parsed here.

    A batch of ascending integer keys (the exporter writes them so) is looked up as one key range,
    capped at twice the batch; a range holding more rows than that is looked up key by key."""
    if not compares_in_server(contract, ent):
        return _plan_canonical(conn, contract, ent, export_dir, invalid)
    plan = EntityPlan(ent.name)
    by_key = sql.SQL(_COMPARE).format(entity_query(conn, ent, contract, lookup="keys"))
    by_range = sql.SQL(_COMPARE).format(entity_query(conn, ent, contract, lookup="range"))
    for batch in _ahead(_prepared(export_dir / ent.file, ent.key_fields[0], invalid)):
        plan.invalid += batch.invalid
        if not batch.wanted:
            continue
        row = None
        if batch.low is not None:
            cap = 2 * batch.wanted
            ranged = {**batch.params, "low": batch.low, "high": batch.high, "cap": cap}
            row = conn.execute(by_range, ranged).fetchone()
            if row is not None and int(row[2]) >= cap:
                row = None  # the range holds more rows than the cap: some may have been cut off
        if row is None:
            row = conn.execute(by_key, batch.params).fetchone()
        same, differ = (int(row[0]), int(row[1])) if row else (0, 0)
        plan.skipped += same
        plan.would_update += differ
        plan.would_insert += batch.wanted - same - differ
    return plan


def compares_in_server(contract: Contract, ent: Entity) -> bool:
    """Whether the entity's records can be compared in the server, as digests of their lines: the
    harness's own (version 1) export with a one-field key is byte-identical to the target's
    rendering. A version-2 export may come from another writer and is compared in canonical form."""
    return contract.version < 2 and len(ent.key_fields) == 1


def _plan_canonical(
    conn: psycopg.Connection[Any], contract: Contract, ent: Entity, export_dir: Path, invalid: set[str]
) -> EntityPlan:
    """Compare in the client: the target's rows for each batch's keys rendered by the exporter's
    query, both sides in canonical form (harness/portable/compare.py), as the re-export compare."""
    plan = EntityPlan(ent.name)
    query = entity_query(conn, ent, contract, keys_param=True)
    composite = len(ent.key_fields) > 1
    for batch in iter_batches(export_dir / ent.file):
        wanted: dict[str, bytes] = {}
        for raw in batch:
            try:
                doc = orjson.loads(raw)
                rid = ent.record_id(doc) if isinstance(doc, dict) else None
            except orjson.JSONDecodeError:
                rid = None
            if rid is None or rid in invalid:
                plan.invalid += 1
            else:
                wanted[rid] = raw
        if not wanted:
            continue
        keys: Any = "[" + ",".join(wanted) + "]" if composite else list(wanted)
        existing: dict[str, bytes] = {}
        for (text,) in conn.execute(query, [keys]):
            doc = text.encode()
            rid = ent.record_id(orjson.loads(doc))
            if rid is not None:
                existing[rid] = doc
        for rid, raw in wanted.items():
            current = existing.get(rid)
            if current is None:
                plan.would_insert += 1
            elif canonical(ent, current) == canonical(ent, raw):
                plan.skipped += 1
            else:
                plan.would_update += 1
    return plan


def dry_run(db: Database, contract: Contract, export_dir: Path, report: ValidationReport) -> DryRunResult:
    """Plan an import of a validated export into ``db`` without writing anything."""
    started = time.perf_counter()
    tables = []
    for ent in contract.entities:
        if not ent.table:
            raise ConfigError(
                f"{contract.path}: entity {ent.name!r} is exported from a query; import needs a table"
            )
        tables.append(ent.table.split(".")[-1])
    before = table_stats(db, tables)
    result = DryRunResult(target=db.describe())
    with db.connect() as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        read_only = conn.execute("SHOW transaction_read_only").fetchone()
        for ent in contract.load_order():
            invalid = report.invalid_ids.get(ent.name, set())
            result.entities.append(_plan_entity(conn, contract, ent, Path(export_dir), invalid))
        xid = conn.execute("SELECT txid_current_if_assigned()").fetchone()
        conn.rollback()
    after = table_stats(db, tables)
    missing = sorted(set(tables) - set(before))
    result.proof = {
        "method": "read-only transaction + no transaction id assigned + unchanged pg_stat_user_tables",
        "transaction_read_only": bool(read_only and read_only[0] == "on"),
        "transaction_id_assigned": bool(xid and xid[0] is not None),
        "tables_checked": len(before),
        "tables_missing_in_target": missing,
        "stats_unchanged": before == after,
        "changed_tables": sorted(t for t in before if before[t] != after.get(t)),
    }
    result.proof["proven"] = (
        result.proof["transaction_read_only"]
        and not result.proof["transaction_id_assigned"]
        and result.proof["stats_unchanged"]
        and not missing
    )
    result.seconds = time.perf_counter() - started
    return result
