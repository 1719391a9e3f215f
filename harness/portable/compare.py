"""Semantic comparison of two exports of the same contract: same records, whatever the writer.

A version-1 export and its re-export are compared byte for byte (the harness wrote both). A foreign
export was written by another program, so its re-export from the restored target differs in bytes
(key order, spacing, number and time spelling) while holding the same data. Each record is brought
to one canonical form and the two exports are compared as multisets of canonical records:

* keys sorted, no spaces (canonical JSON, recursively);
* numbers by value: an integral float is the integer (JSON does not tell ``1000.0`` from ``1000``);
* a field with timestamp form ``rfc3339`` as the UTC instant with microseconds (PostgreSQL keeps
  the instant, not the offset it was written with);
* with ``absent_means_null``, a top-level field that is null is the same as one that is absent.

Nothing else is forgiven: a changed string, a lost field, a truncated fraction, a missing or extra
record all count. Results name entities and counts, never a record or a value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson

from harness.clock import parse_rfc3339
from harness.portable.contract import Contract, Entity

_DIGEST = 16


def _numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # integers beyond 64 bits, which orjson refuses


def canonical(ent: Entity, raw: bytes) -> bytes:
    """One record's canonical form (see the module docstring)."""
    record = _numbers(_loads(raw))
    if isinstance(record, dict):
        if ent.absent_means_null:
            record = {k: v for k, v in record.items() if v is not None}
        for fld, form in ent.timestamp_forms.items():
            value = record.get(fld)
            if form == "rfc3339" and isinstance(value, str):
                moment = parse_rfc3339(value)
                if moment is not None:
                    record[fld] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def _digests(ent: Entity, path: Path) -> list[bytes]:
    return sorted(hashlib.blake2b(canonical(ent, raw), digest_size=_DIGEST).digest() for raw in _lines(path))


def _difference(left: list[bytes], right: list[bytes]) -> tuple[int, int]:
    """(in left only, in right only), counting repeats, of two sorted lists."""
    i = j = only_left = only_right = 0
    while i < len(left) and j < len(right):
        if left[i] == right[j]:
            i, j = i + 1, j + 1
        elif left[i] < right[j]:
            only_left, i = only_left + 1, i + 1
        else:
            only_right, j = only_right + 1, j + 1
    return only_left + len(left) - i, only_right + len(right) - j


def compare_exports(contract: Contract, source_dir: Path, again_dir: Path) -> dict[str, Any]:
    """Per entity: record counts, records only in the source (lost or changed by the restore) and
    only in the re-export, and a digest of each side's canonical multiset."""
    entities: dict[str, Any] = {}
    for ent in contract.entities:
        source = _digests(ent, Path(source_dir) / ent.file)
        again = _digests(ent, Path(again_dir) / ent.file)
        lost, extra = _difference(source, again)
        entities[ent.name] = {
            "source_count": len(source),
            "restored_count": len(again),
            "only_in_source": lost,
            "only_in_restored": extra,
            "source_digest": hashlib.sha256(b"".join(source)).hexdigest(),
            "restored_digest": hashlib.sha256(b"".join(again)).hexdigest(),
            "match": lost == 0 and extra == 0,
        }
    return {
        "method": "semantic: canonical records compared as multisets (docs/contract-format.md)",
        "passed": bool(entities) and all(e["match"] for e in entities.values()),
        "entities": entities,
    }


def compare_manifests(source: dict[str, Any], restored: dict[str, Any]) -> dict[str, Any]:
    """Per-entity counts and checksums of the source export against the re-export of the target."""
    entities: dict[str, Any] = {}
    for name, file in sorted(source["entity_files"].items()):
        entry = {
            "source_count": source["entity_counts"].get(name),
            "restored_count": restored["entity_counts"].get(name),
            "source_sha256": source["checksums"].get(file),
            "restored_sha256": restored["checksums"].get(file),
        }
        entry["match"] = (
            entry["source_count"] == entry["restored_count"]
            and entry["source_sha256"] == entry["restored_sha256"]
        )
        entities[name] = entry
    return {"passed": bool(entities) and all(e["match"] for e in entities.values()), "entities": entities}
