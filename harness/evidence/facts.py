"""What an evidence document proves, read from the sections the lanes write (one place for all readers).

Controls, metrics, history and the forecast ask the same questions of a run: when was the backup
taken, how much data did the drill move, which steps make up the restore, did the restore read the
offsite copy, did the storage refuse deletion, was the backup encrypted at rest. Each answer is a
small table of where the lanes put that fact, so a new lane adds rows here rather than new readers.
A fact the document does not carry is ``None``/``False``, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.evidence.verdict import PASSED

#: per lane, the steps inside the RTO window whose work grows with the data (the forecast scales
#: these; the rest of the measured RTO is fixed overhead)
RESTORE_STEPS: dict[str, tuple[str, ...]] = {
    "portable-export": ("fetch", "extract", "validate", "dry-run", "restore", "smoke"),
    "pg-roundtrip": ("restore",),
    "pitr": ("fetch", "restore"),
    "pg-restore-check": ("restore",),
    "snapshot": ("verify", "restore", "compare"),
}


def dig(doc: Any, *path: str) -> Any:
    """``doc[path[0]][path[1]]...`` or None when any part is missing or not a mapping."""
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def step_passed(doc: dict[str, Any], name: str) -> bool:
    return any(s.get("name") == name and s.get("status") == PASSED for s in doc.get("steps", []))


def backup_taken_at(doc: dict[str, Any]) -> str | None:
    """When the backup this run restored was taken (RFC 3339), if the evidence says."""
    for path in (
        ("source", "manifest", "generated_at"),
        ("extra", "pg_roundtrip", "dump", "started_at"),
        ("extra", "pg_restore_check", "dump", "created_at"),
        ("extra", "pitr", "backup", "started_at"),
        ("extra", "snapshot", "snapshot", "created_at"),
    ):
        value = dig(doc, *path)
        if isinstance(value, str):
            return value
    return None


@dataclass(frozen=True)
class Size:
    rows: int | None
    bytes: int | None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


_ROW_PATHS: tuple[tuple[str, ...], ...] = (
    ("extra", "pg_roundtrip", "pre", "total_rows"),
    ("extra", "pg_restore_check", "restored", "total_rows"),
    ("extra", "pitr", "at_target", "total_rows"),
)
_BYTE_PATHS: tuple[tuple[str, ...], ...] = (
    ("extra", "pg_roundtrip", "dump", "size_bytes"),
    ("extra", "pg_restore_check", "dump", "size_bytes"),
    ("extra", "pitr", "backup", "size_bytes"),
    ("extra", "snapshot", "snapshot", "summary", "bytes"),
)


def _first(doc: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> int | None:
    return next((v for v in (_int(dig(doc, *p)) for p in paths) if v is not None), None)


def drilled_size(doc: dict[str, Any]) -> Size:
    """How much data the drill restored (rows, bytes), from the lane's own sections."""
    counts = dig(doc, "source", "manifest", "entity_counts")
    rows = _int(sum(v for v in counts.values() if isinstance(v, int))) if isinstance(counts, dict) else None
    if rows is None:
        rows = _first(doc, _ROW_PATHS)
    size = _int(dig(doc, "source", "archive", "size_bytes"))
    if size is None:
        size = _first(doc, _BYTE_PATHS)
    return Size(rows, size)


def restored_from_offsite(doc: dict[str, Any]) -> bool:
    """The verified restore read a copy fetched back from offsite storage (S3), not a local file."""
    if doc.get("verdict") != "verified":
        return False
    if dig(doc, "extra", "offsite", "fetch") and step_passed(doc, "fetch") and step_passed(doc, "restore"):
        return True
    if dig(doc, "extra", "pitr", "recovery", "used_fetched_copy") is True:
        return dig(doc, "extra", "pitr", "recovery", "source") == "offsite" and step_passed(doc, "restore")
    store = dig(doc, "extra", "snapshot", "store", "type")
    return store == "s3" and step_passed(doc, "restore") and step_passed(doc, "compare")


def _posture_passes(posture: Any, prop: str) -> bool:
    checks = dig(posture, "checks")
    return isinstance(checks, list) and any(
        isinstance(c, dict) and c.get("property") == prop and c.get("status") == "pass" for c in checks
    )


def _postures(doc: dict[str, Any]) -> list[Any]:
    return [dig(doc, "extra", "offsite", "posture"), dig(doc, "extra", "pitr", "offsite", "posture")]


def immutability_proven(doc: dict[str, Any]) -> bool:
    """The storage was shown to refuse deletion: a locked object refused delete and overwrite, or the
    live bucket's Object Lock posture check passed before the upload."""
    refused = dig(doc, "extra", "snapshot", "worm", "refused")
    locked = dig(doc, "extra", "snapshot", "worm", "lock", "locked") is True and step_passed(doc, "worm")
    if locked and isinstance(refused, list) and {"delete", "overwrite"} <= set(refused):
        return True
    return any(_posture_passes(p, "object_lock") for p in _postures(doc))


def encryption_proven(doc: dict[str, Any]) -> bool:
    """The backup was encrypted at rest: the bucket's encryption posture passed and the stored object
    reports server-side encryption, or a client-side encrypted snapshot authenticated on verify."""
    for posture, sse in (
        (
            dig(doc, "extra", "offsite", "posture"),
            dig(doc, "extra", "offsite", "upload", "server_side_encryption"),
        ),
        (
            dig(doc, "extra", "pitr", "offsite", "posture"),
            dig(doc, "extra", "pitr", "offsite", "base_backup", "server_side_encryption"),
        ),
    ):
        if _posture_passes(posture, "encryption") and isinstance(sse, dict) and sse.get("algorithm"):
            return True
    key = dig(doc, "extra", "snapshot", "key", "provider")
    authenticated = dig(doc, "extra", "snapshot", "verify", "manifest_authenticated") is True
    return key in ("kms", "keyfile") and authenticated and step_passed(doc, "verify")


def objective(doc: dict[str, Any], which: str) -> dict[str, Any]:
    """``measurements.rto`` or ``.rpo`` (measured_seconds, objective_seconds, met)."""
    value = dig(doc, "measurements", which)
    return value if isinstance(value, dict) else {}
