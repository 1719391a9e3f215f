"""Validator for an extracted portable export (requirement R3).

One streaming pass per entity file checks the checksum, line count, UTF-8,
JSON, the entity's JSON Schema, enums, timestamps and redaction (dropped
fields and the secret scanner). Primary keys and references go to an on-disk
SQLite index so duplicate ids and dangling references are found with joins,
keeping memory flat however large the export is.

Rules: manifest.missing, manifest.json, manifest.schema, manifest.schema_version,
manifest.entities, manifest.omitted, file.missing, file.unexpected,
file.checksum, count.mismatch, record.utf8, record.json, record.schema,
record.primary_key, record.duplicate_id, relationship.dangling,
relationship.at_least_one_of, enum.unknown, timestamp.unparseable,
redaction.field_present, redaction.secret.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from harness.files import MANIFEST
from harness.portable.contract import Contract, Entity
from harness.portable.validate.findings import Finding, ValidationReport
from harness.portable.validate.index import RecordIndex
from harness.schema_check import error_path, package_validator
from harness.secrets import might_hold_secret, scan_record

# Exports at least this large are validated with one process per core.
PARALLEL_THRESHOLD_BYTES = 64 << 20


def record_key(value: Any) -> str | None:
    """Stable string form of an id or reference value (ints and strings; anything else is not an id)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


def _short(error: jsonschema.ValidationError) -> tuple[str | None, str]:
    path = ".".join(str(p) for p in error.absolute_path) or None
    message = error.message
    if len(message) > 200:
        message = message[:200] + "…"
    if error.validator in ("pattern", "enum", "const", "format", "minLength", "maxLength", "type"):
        # These messages quote the value; a value may be sensitive, so describe without it.
        message = f"fails '{error.validator}' (expected {error.validator_value!r})"
        if error.validator == "type":
            message = f"has type {type(error.instance).__name__}, expected {error.validator_value!r}"
    return path, message


def _parse_timestamp(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None and "T" in value


class Validator:
    def __init__(self, contract: Contract, export_dir: Path, *, scratch_dir: Path | None = None) -> None:
        self.contract = contract
        self.export_dir = Path(export_dir)
        self.scratch_dir = scratch_dir
        self.report = ValidationReport(export_dir=self.export_dir)

    def finding(
        self,
        rule: str,
        file: str,
        message: str,
        *,
        line: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.report.add(Finding(rule, file, line, record_id, message, field))

    # -- manifest ---------------------------------------------------------------------------------
    def check_manifest(self) -> dict[str, Any] | None:
        path = self.export_dir / MANIFEST
        if not path.is_file():
            self.finding("manifest.missing", MANIFEST, f"no {MANIFEST} in {self.export_dir}")
            return None
        try:
            manifest = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            self.finding("manifest.json", MANIFEST, f"not valid JSON: {exc}")
            return None
        errors = list(package_validator("manifest.schema.json").iter_errors(manifest))
        for err in errors[:20]:
            self.finding("manifest.schema", MANIFEST, f"{error_path(err)}: {err.message}")
        if errors or not isinstance(manifest, dict):
            return None
        self.report.manifest = manifest
        if manifest["schema_version"] != self.contract.schema_version:
            self.finding(
                "manifest.schema_version",
                MANIFEST,
                f"schema_version {manifest['schema_version']!r} does not match the contract's "
                f"{self.contract.schema_version!r} ({self.contract.path})",
            )
        expected = {e.name: e.file for e in self.contract.entities}
        for name in sorted(set(expected) - set(manifest["entity_files"])):
            self.finding(
                "manifest.entities", MANIFEST, f"entity {name!r} of the contract is not in the manifest"
            )
        for name in sorted(set(manifest["entity_files"]) - set(expected)):
            self.finding(
                "manifest.entities", MANIFEST, f"manifest lists entity {name!r} the contract does not know"
            )
        for name, file in sorted(manifest["entity_files"].items()):
            if name in expected and file != expected[name]:
                self.finding(
                    "manifest.entities",
                    MANIFEST,
                    f"entity {name!r} is in {file!r}, contract says {expected[name]!r}",
                )
        listed = {o["entity"] for o in manifest["omitted_entities"]}
        for om in self.contract.omitted:
            if om.entity not in listed:
                self.finding(
                    "manifest.omitted",
                    MANIFEST,
                    f"omitted entity {om.entity!r} is not declared in the manifest's omitted_entities",
                )
        return manifest

    def check_files(self, manifest: dict[str, Any] | None) -> None:
        expected = {e.file for e in self.contract.entities} | {MANIFEST}
        for path in sorted(self.export_dir.iterdir()):
            if path.name not in expected:
                self.finding("file.unexpected", path.name, "file is not part of the contract's export")
        for ent in self.contract.entities:
            if not (self.export_dir / ent.file).is_file():
                self.finding("file.missing", ent.file, f"entity {ent.name!r} file is missing")

    # -- records ----------------------------------------------------------------------------------
    @staticmethod
    def salvage_id(ent: Entity, raw: bytes, index: RecordIndex, line: int) -> str | None:
        """The id of an unreadable line, if it can still be read, so the finding names the record
        and the records that point at it are not reported as dangling as well."""
        try:
            record = orjson.loads(raw.decode("utf-8", errors="replace"))
        except orjson.JSONDecodeError:
            return None
        rid = record_key(record.get(ent.primary_key)) if isinstance(record, dict) else None
        if rid is not None:
            index.ids.append((ent.name, rid, line))
        return rid

    def check_entity(self, ent: Entity, manifest: dict[str, Any] | None, index: RecordIndex) -> None:
        path = self.export_dir / ent.file
        if not path.is_file():
            return
        digest = hashlib.sha256()
        enums = {k: set(v) for k, v in ent.enums.items()}
        redact = set(ent.redact)
        allow = ent.secret_allow_fields
        rels = ent.relationships
        groups = ent.at_least_one_of
        schema = ent.validator
        fast = ent.fast_check
        file = ent.file
        lines = 0
        with path.open("rb") as fh:
            for lines, raw in enumerate(fh, start=1):  # the count survives the loop
                digest.update(raw)
                self.report.records_checked += 1
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    rid = self.salvage_id(ent, raw, index, lines)
                    self.finding(
                        "record.utf8", file, f"invalid UTF-8 at byte {exc.start}", line=lines, record_id=rid
                    )
                    continue
                try:
                    record = orjson.loads(text)
                except orjson.JSONDecodeError as exc:
                    rid = self.salvage_id(ent, raw, index, lines)
                    self.finding("record.json", file, f"malformed JSON: {exc.msg}", line=lines, record_id=rid)
                    continue
                if not isinstance(record, dict):
                    self.finding("record.json", file, "line is not a JSON object", line=lines)
                    continue
                rid = record_key(record.get(ent.primary_key))
                bad = False
                if rid is None:
                    self.finding(
                        "record.primary_key",
                        file,
                        f"primary key {ent.primary_key!r} missing or not an integer/string",
                        line=lines,
                    )
                    bad = True
                else:
                    index.ids.append((ent.name, rid, lines))
                if fast is None or not fast(record):
                    for err in schema.iter_errors(record):
                        fld, msg = _short(err)
                        self.finding("record.schema", file, msg, line=lines, record_id=rid, field=fld)
                        bad = True
                for fld, allowed in enums.items():
                    value = record.get(fld)
                    if value is not None and value not in allowed:
                        self.finding(
                            "enum.unknown",
                            file,
                            f"value is not one of {sorted(allowed)}",
                            line=lines,
                            record_id=rid,
                            field=fld,
                        )
                        bad = True
                for fld in ent.timestamps:
                    value = record.get(fld)
                    if value is not None and not (isinstance(value, str) and _parse_timestamp(value)):
                        self.finding(
                            "timestamp.unparseable",
                            file,
                            "not an RFC 3339 timestamp with a zone",
                            line=lines,
                            record_id=rid,
                            field=fld,
                        )
                        bad = True
                for fld in redact.intersection(record):
                    self.finding(
                        "redaction.field_present",
                        file,
                        "field must be redacted by the contract",
                        line=lines,
                        record_id=rid,
                        field=fld,
                    )
                    bad = True
                if ent.secret_scan and might_hold_secret(text):
                    for hit in scan_record(record, allow_fields=allow):
                        self.finding(
                            "redaction.secret",
                            file,
                            hit.describe(),
                            line=lines,
                            record_id=rid,
                            field=hit.path,
                        )
                        bad = True
                for rel in rels:
                    value = record.get(rel.field)
                    values = value if rel.array and isinstance(value, list) else [value]
                    for item in values:
                        key = record_key(item)
                        if key is not None:
                            index.refs.append((ent.name, file, lines, rid, rel.field, rel.entity, key))
                        elif item is not None or not (rel.nullable or rel.array):
                            self.finding(
                                "relationship.dangling",
                                file,
                                f"reference to {rel.entity} is empty or not an id",
                                line=lines,
                                record_id=rid,
                                field=rel.field,
                            )
                            bad = True
                for group in groups:
                    if all(record.get(f) is None for f in group):
                        self.finding(
                            "relationship.at_least_one_of",
                            file,
                            f"at least one of {list(group)} must be set",
                            line=lines,
                            record_id=rid,
                        )
                        bad = True
                if bad:
                    self.report.mark_invalid(ent.name, rid)
                index.maybe_flush()
        self.report.entity_counts[ent.name] = lines
        if manifest is not None:
            want = manifest["checksums"].get(file)
            got = f"sha256:{digest.hexdigest()}"
            if want is None:
                self.finding("file.checksum", file, "manifest has no checksum for this file")
            elif want != got:
                self.finding("file.checksum", file, f"sha256 mismatch: manifest {want}, file {got}")
            count = manifest["entity_counts"].get(ent.name)
            if count is not None and count != lines:
                self.finding("count.mismatch", file, f"manifest says {count} records, file has {lines}")

    def run(self, workers: int = 1) -> ValidationReport:
        started = time.perf_counter()
        manifest = self.check_manifest()
        self.check_files(manifest)
        with tempfile.TemporaryDirectory(prefix="drill-validate-", dir=self.scratch_dir) as scratch:
            index = RecordIndex(Path(scratch))
            try:
                parts = None
                if workers > 1 and len(self.contract.entities) > 1:
                    from harness.portable.validate.parallel import check_entities_in_parallel

                    parts = check_entities_in_parallel(
                        self.contract, self.export_dir, manifest, Path(scratch), workers
                    )
                if parts is not None:
                    self.report.workers = workers
                    for part, index_file in parts:
                        self.report.merge(part)
                        index.absorb(index_file)
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
        files = {e.name: e.file for e in self.contract.entities}
        for entity, rid, line in index.duplicates():
            self.finding(
                "record.duplicate_id",
                files[entity],
                "primary key repeats an earlier record",
                line=line,
                record_id=rid,
            )
            self.report.mark_invalid(entity, rid)
        for entity, file, line, ref_id, fld, target, target_id in index.dangling():
            self.finding(
                "relationship.dangling",
                file,
                f"references {target} id {target_id}, which is not in the export",
                line=line,
                record_id=ref_id,
                field=fld,
            )
            self.report.mark_invalid(entity, ref_id)


def default_workers(export_dir: Path) -> int:
    """Processes worth using: one per core for large exports, one otherwise (start-up costs ~0.5 s)."""
    size = sum(p.stat().st_size for p in Path(export_dir).glob("*.jsonl"))
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
