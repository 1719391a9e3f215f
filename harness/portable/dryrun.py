"""Dry-run import: what an import would do to a target, proven to write nothing.

Records are read from the export in batches and compared with the target's
rows rendered by the exporter's own query (same field order, same timestamp
format). For the harness's own (version 1) export "identical" means byte-identical canonical
JSON and the comparison runs in the server (harness/portable/dryrun_server.py): the server compares
a digest of each whole batch (a block of lines, unparsed when its first and last line's key range
settles it), or, where that does not settle it, the SHA-256 of each line, and only counts come back.
A version-2 export (possibly another writer's) is compared in the client, both sides in canonical
form (harness/portable/compare.py):

* would_insert: the primary key is not in the target;
* would_update: the key exists and the record differs;
* skipped: the key exists and the record is identical;
* invalid: validation flagged the record; it would not be imported.

Everything runs in READ ONLY transactions, one per server backend (``BACKENDS``), all reading one
exported snapshot. The proof of zero writes is checked, not assumed: every backend confirms its
transaction was read-only and no transaction id was ever assigned (PostgreSQL assigns one on the
first write),
and the target's per-table insert/update/delete counters and live row
estimates are identical before and after.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg

from harness.errors import ConfigError
from harness.files import complete_blocks, line_blocks
from harness.portable import dryrun_server as server
from harness.portable.compare import canonical
from harness.portable.contract import Contract, Entity
from harness.portable.export import entity_query
from harness.portable.validate.findings import ValidationReport
from harness.postgres.database import Database

BATCH = 5_000
#: The server compare's batches: blocks of whole lines of about this many bytes.
BATCH_BYTES = 1 << 20
#: Server backends comparing at once, all reading one snapshot.
BACKENDS = max(1, min(4, os.cpu_count() or 1))


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
    batch: list[bytes] = []
    for lines, _ in line_blocks(path, BATCH_BYTES):
        batch.extend(lines)
        while len(batch) >= size:
            yield batch[:size]
            del batch[:size]
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


def _plan_entity(
    conns: list[psycopg.Connection[Any]], contract: Contract, ent: Entity, export_dir: Path, invalid: set[str]
) -> EntityPlan:
    """Compare the entity's records with the target: in the server (harness/portable/dryrun_server.py)
    where :func:`compares_in_server`, the connections reading one snapshot and taking batches in
    turn; else in the client, in canonical form."""
    if not compares_in_server(contract, ent):
        return _plan_canonical(conns[0], contract, ent, export_dir, invalid)
    queries = server.Queries.of(conns[0], contract, ent)
    reading = server.Reading(ent.key_fields[0], invalid, digests=queries.digest_keys is not None)
    blocks = complete_blocks(export_dir / ent.file, BATCH_BYTES)
    works = server.ahead(server.read(blocks, reading), depth=2 * len(conns))
    try:
        counts = server.shared(conns, works, queries, reading)
    finally:
        works.close()  # type: ignore[attr-defined]
    return EntityPlan(ent.name, **vars(counts))


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
    with contextlib.ExitStack() as stack:
        conns = server.readers(db, stack, BACKENDS)
        read_only = [conn.execute("SHOW transaction_read_only").fetchone() for conn in conns]
        for ent in contract.load_order():
            invalid = report.invalid_ids.get(ent.name, set())
            result.entities.append(_plan_entity(conns, contract, ent, Path(export_dir), invalid))
        xids = [conn.execute("SELECT txid_current_if_assigned()").fetchone() for conn in conns]
        for conn in reversed(conns):  # the snapshot's exporter last
            conn.rollback()
    after = table_stats(db, tables)
    missing = sorted(set(tables) - set(before))
    result.proof = {
        "method": "read-only transaction on every backend + no transaction id assigned + unchanged "
        "pg_stat_user_tables",
        "backends": len(read_only),
        "transaction_read_only": all(row is not None and row[0] == "on" for row in read_only),
        "transaction_id_assigned": any(row is None or row[0] is not None for row in xids),
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
