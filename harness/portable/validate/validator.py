"""Validator for an extracted portable export (requirement R3).

One streaming pass per entity file checks the checksum, line count, UTF-8,
JSON, the entity's JSON Schema, enums, timestamps and redaction (dropped
fields and the secret scanner). Primary keys and references go to an index
(``index.py``: compact keys, bounded sets that spill to disk) so duplicate ids
and dangling references are found with set operations, keeping memory flat
however large the export is.

The rules themselves, and the catalogue of their ids, live in
``harness.portable.validate.rules``; this module runs them in order.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from harness.errors import ConfigError
from harness.files import open_regular
from harness.portable.contract import Contract, Entity, load_contract, read_view
from harness.portable.contract import key_text as record_key
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.index import IndexPart, RecordIndex
from harness.portable.validate.keys import BOUND, key_of_text
from harness.portable.validate.lines import LineBlocks
from harness.portable.validate.parallel import check_entities_in_parallel
from harness.portable.validate.refs import Place
from harness.portable.validate.rules import INDEX_RULES, MANIFEST_RULES, RECORD_RULES
from harness.portable.validate.rules import files as file_rules
from harness.portable.validate.rules import manifest as manifest_rules
from harness.portable.validate.rules import reader as reader_rules
from harness.portable.validate.rules import records as record_rules
from harness.portable.validate.rules import relationships as relationship_rules
from harness.portable.validate.rules.catalogue import LOWERABLE, RULES
from harness.portable.validate.rules.context import EntityContext, ExportContext, RecordRuleBinder
from harness.portable.validate.rules.fused import bind_clean
from harness.portable.validate.rules.reader import nesting_bound, too_deep

__all__ = ["PARALLEL_THRESHOLD_BYTES", "Validator", "default_workers", "record_key", "validate_export"]

# Exports at least this large are validated with one process per core.
PARALLEL_THRESHOLD_BYTES = 64 << 20


def check_severities(contract: Contract) -> None:
    """The contract's ``strictness.severities`` name catalogued rules and lower only form rules."""
    for rule_id, severity in contract.strictness.severities:
        entry = RULES.get(rule_id)
        if entry is None:
            close = difflib.get_close_matches(rule_id, RULES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{contract.path}: strictness.severities: no rule {rule_id!r}{hint}")
        if severity == "warning" and entry.severity == "error" and rule_id not in LOWERABLE:
            raise ConfigError(
                f"{contract.path}: strictness.severities.{rule_id}: cannot be lowered to a warning; only "
                f"{', '.join(sorted(LOWERABLE))} can (the others decide whether the data restores whole)"
            )


class Validator:
    def __init__(self, contract: Contract, export_dir: Path, *, scratch_dir: Path | None = None) -> None:
        self.contract = contract
        self.export_dir = Path(export_dir)
        self.scratch_dir = scratch_dir
        self.report = ValidationReport(export_dir=self.export_dir)
        check_severities(contract)

    @cached_property
    def context(self) -> ExportContext:
        return ExportContext(self.report, self.contract.strictness, self.contract, self.export_dir)

    def check_manifest(self) -> dict[str, Any] | None:
        manifest = manifest_rules.read_manifest(self.context)
        if manifest is None:
            return None
        self.report.manifest = manifest
        view = read_view(manifest, self.contract.profile)
        for check in MANIFEST_RULES:
            check(self.context, manifest, view)
        return manifest

    def check_files(self) -> None:
        file_rules.check_files(self.context)

    def check_entity(
        self,
        ent: Entity,
        manifest: dict[str, Any] | None,
        index: RecordIndex,
        rules: tuple[RecordRuleBinder, ...] = RECORD_RULES,
    ) -> None:
        """One pass over an entity file: parse each line, then run the entity's record rules
        (``rules``: all of them, or those a rescan needs)."""
        path = self.export_dir / ent.file
        try:
            handle = open_regular(path)
        except ConfigError:
            return  # missing, a link or a special file: file.missing / file.not_regular say so
        declared: frozenset[str] = frozenset()
        view = read_view(manifest, self.contract.profile) if manifest is not None else None
        if view is not None:
            declared = frozenset((view.redactions or {}).get(ent.name, ()))
        ctx = EntityContext(self.report, self.contract.strictness, ent, index, self.contract, declared)
        bound = [(bind, bind(ctx)) for bind in rules]
        clean, covered = bind_clean(ctx) if rules is RECORD_RULES else (_never, frozenset())
        # A record the entity's schema passes (clean() covers it) nests no deeper than the schema
        # lets it: when that is within max_depth, such a record needs no depth count.
        nests = nesting_bound(ent.schema) if record_rules.bind_schema in covered else None
        shallow = nests is not None and nests <= self.contract.strictness.max_depth
        all_checks = [check for _, check in bound if check is not None]  # for a record clean() refuses
        all_rest = [check for bind, check in bound if check is not None and bind not in covered]
        checks, rest = all_checks, all_rest
        hooks, idle = tuple(ctx.block_hooks), dict(ctx.idle_checks)
        digest = hashlib.sha256()
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        add_key, maybe_flush = index.keyset(ent.name).add, index.maybe_flush
        mark_invalid = self.report.mark_invalid
        name, primary_key = ent.name, ent.primary_key
        composite = ent.record_id if len(ent.key_fields) > 1 else None
        limit = self.contract.strictness.max_record_bytes
        max_depth = self.contract.strictness.max_depth
        blocks = LineBlocks(handle, digest.update, limit)
        with handle:
            for first, block, body in blocks:
                for hook in hooks:
                    hook(body, first)
                if idle:  # checks that say, after the hooks, that no record of this block can break them
                    quiet = {check for check, asleep in idle.items() if asleep()}
                    checks = [check for check in all_checks if check not in quiet]
                    rest = [check for check in all_rest if check not in quiet]
                line = first - 1
                for raw in block:
                    line += 1
                    if len(raw) > limit and len(raw) - (raw[-1:] == b"\n") > limit:
                        reader_rules.report_oversized_line(ctx, line, blocks.sizes.get(line, len(raw)))
                        continue
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        record_rules.report_invalid_utf8(ctx, raw, line, exc)
                        continue
                    try:
                        record = loads(text)
                    except decode_error as exc:
                        record_rules.report_malformed_json(ctx, raw, line, exc)
                        continue
                    if not isinstance(record, dict):
                        record_rules.report_not_an_object(ctx, line)
                        continue
                    if composite:
                        rid = composite(record)
                        key = None if rid is None else key_of_text(rid)
                    else:
                        value = record.get(primary_key)
                        if value.__class__ is int and -BOUND < value < BOUND:
                            rid, key = str(value), value
                        else:
                            rid = record_key(value)
                            key = None if rid is None else key_of_text(rid)
                    ok = shallow and clean(record)
                    if (
                        not ok
                        and text.count("{") + text.count("[") > max_depth
                        and too_deep(text, record, max_depth)
                    ):
                        reader_rules.report_too_deep(ctx, line, rid)
                        mark_invalid(name, rid)
                        continue
                    if key is None:
                        record_rules.report_missing_primary_key(ctx, line)
                        bad = True
                    else:
                        add_key(key, line, rid)
                        bad = False
                    for check in rest if ok or (not shallow and clean(record)) else checks:
                        if check(record, text, line, rid):
                            bad = True
                    if bad:
                        mark_invalid(name, rid)
                maybe_flush()
        lines = blocks.lines
        index.finish(name)
        self.report.records_checked += lines
        self.report.entity_counts[name] = lines
        if view is not None:
            file_rules.check_checksum(ctx, view, digest.hexdigest())
            file_rules.check_count(ctx, view, lines)

    def places_of(self, entity: str) -> Iterator[Place]:
        """Where ``entity``'s records make each reference, read again from its file by the same loop
        with the references rule alone (the first pass keeps only the distinct keys)."""
        with tempfile.TemporaryDirectory(prefix="drill-places-", dir=self.scratch_dir) as scratch:
            index = RecordIndex(Path(scratch))
            try:
                ent = self.contract.entity(entity)
                Validator(self.contract, self.export_dir).check_entity(ent, None, index, _RESCAN)
                store = index.stores.get(entity)
                if store is not None:
                    yield from store.all_places()
            finally:
                index.close()

    def _index(self, directory: Path, name: str = "index.sqlite3") -> RecordIndex:
        index = RecordIndex(directory, name=name, rule_fields=rule_fields(self.contract))
        index.keep_places, index.rescan = False, self.places_of
        return index

    def run(self, workers: int = 1) -> ValidationReport:
        started = time.perf_counter()
        if not self.export_dir.is_dir():
            raise ConfigError(f"{self.export_dir}: no such export directory")
        if self.scratch_dir is not None:
            Path(self.scratch_dir).mkdir(parents=True, exist_ok=True)
        manifest = self.check_manifest()
        self.check_files()
        with tempfile.TemporaryDirectory(prefix="drill-validate-", dir=self.scratch_dir) as scratch:
            index = self._index(Path(scratch))
            try:
                parts = None
                if workers > 1 and len(self.contract.entities) > 1:
                    parts = check_entities_in_parallel(
                        check_one_entity,
                        self.contract,
                        self.export_dir,
                        manifest,
                        Path(scratch),
                        workers,
                        initializer=forget_worker_contracts,
                    )
                if parts is not None:
                    self.report.workers = workers
                    for part, index_part in parts:
                        self.report.merge(part)
                        index.absorb(index_part)
                else:
                    for ent in self.contract.entities:
                        self.check_entity(ent, manifest, index)
                self.check_index(index)
            finally:
                index.close()
        self.report.seconds = time.perf_counter() - started
        return self.report

    def check_index(self, index: RecordIndex) -> None:
        """Duplicate ids and dangling references, across all entities."""
        for check in INDEX_RULES:
            check(self.context, index)


#: The record rules a rescan for places runs.
_RESCAN: tuple[RecordRuleBinder, ...] = (relationship_rules.bind_references,)


def _never(record: dict[str, Any]) -> bool:
    return False


def rule_fields(contract: Contract) -> frozenset[tuple[str, str]]:
    """The (entity, field) references the contract's cross-record rules count."""
    return frozenset((r.related_entity, r.related_field) for r in contract.rules)


#: The contract a worker process loaded, for its later entities; emptied as each worker starts
#: (``forget_worker_contracts``), so it never outlives one validation's pool.
_WORKER_CONTRACTS: dict[Path, Contract] = {}


def forget_worker_contracts() -> None:
    _WORKER_CONTRACTS.clear()


def check_one_entity(
    contract_path: Path, export_dir: Path, entity: str, manifest: dict[str, Any] | None, scratch: Path
) -> tuple[ValidationReport, IndexPart]:
    """One entity file checked in a worker process: its report and its part of the index."""
    contract = _WORKER_CONTRACTS.get(contract_path)
    if contract is None:
        contract = _WORKER_CONTRACTS[contract_path] = load_contract(contract_path)
    validator = Validator(contract, export_dir)
    number = [e.name for e in contract.entities].index(entity)
    index = validator._index(scratch, name=f"part-{number}.sqlite3")
    try:
        validator.check_entity(contract.entity(entity), manifest, index)
        part = index.part()
    finally:
        index.close()
    return validator.report, part


def default_workers(export_dir: Path) -> int:
    """Processes worth using: one per core for large exports, one otherwise (start-up costs ~0.5 s)."""
    size = 0
    for entry in os.scandir(export_dir):  # links are never followed, not even to measure
        info = entry.stat(follow_symlinks=False)
        if entry.name.endswith(".jsonl") and stat.S_ISREG(info.st_mode):
            size += info.st_size
    return max(1, min(os.cpu_count() or 1, 8)) if size >= PARALLEL_THRESHOLD_BYTES else 1


def validate_export(
    contract: Contract, export_dir: Path, *, scratch_dir: Path | None = None, workers: int | None = None
) -> ValidationReport:
    """Validate an extracted export directory against a contract.

    ``workers`` > 1 checks entity files in separate processes (same findings, same order);
    by default large exports use one process per core.
    """
    count = default_workers(export_dir) if workers is None else workers
    return Validator(contract, export_dir, scratch_dir=scratch_dir).run(workers=count)
