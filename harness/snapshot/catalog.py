"""Finding, listing and opening snapshots: authenticate the manifest, then read chunks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.errors import ConfigError, VerificationFailed
from harness.snapshot.crypto import DataKey, decrypt_chunk, open_manifest, parse_envelope
from harness.snapshot.keys import KeyProvider
from harness.snapshot.manifest import check_document, redacted_view
from harness.snapshot.store_base import SnapshotReader, SnapshotStore, check_id


@dataclass
class Opened:
    """An authenticated snapshot: header, manifest document and the unwrapped data key."""

    id: str
    header: dict[str, Any]
    doc: dict[str, Any]
    key: DataKey

    def __post_init__(self) -> None:
        self.aead: AESGCM = self.key.aead()

    def files(self) -> list[dict[str, Any]]:
        return [e for e in self.doc["entries"] if e["type"] == "file"]

    def redacted(self) -> dict[str, Any]:
        return redacted_view(self.header)


def read_header(store: SnapshotStore, snapshot: str) -> dict[str, Any]:
    """The header as stored (NOT authenticated: for listing only)."""
    return parse_envelope(store.read_manifest(check_id(snapshot)), f"snapshot {snapshot}").header


def open_snapshot(store: SnapshotStore, keys: KeyProvider, snapshot: str) -> Opened:
    """Unwrap the data key and authenticate header + manifest; refuse anything unsafe in it."""
    where = f"snapshot {check_id(snapshot)}"
    envelope = parse_envelope(store.read_manifest(snapshot), where)
    header = envelope.header
    if header.get("id") != snapshot:
        raise VerificationFailed(f"{where}: header names snapshot {header.get('id')!r} (manifest moved?)")
    if not isinstance(header.get("key"), dict):
        raise VerificationFailed(f"{where}: header has no wrapped key")
    key = keys.unwrap(header["key"], snapshot)
    plaintext = open_manifest(key, envelope, where)
    if hashlib.sha256(plaintext).hexdigest() != header.get("manifest_sha256"):
        raise VerificationFailed(f"{where}: manifest_sha256 in the header does not match the manifest")
    try:
        doc = json.loads(plaintext)
    except ValueError as exc:
        raise VerificationFailed(f"{where}: manifest is not valid JSON ({exc})") from None
    check_document(doc, where)
    for field in ("id", "tag", "created_at"):
        if doc[field] != header.get(field):
            raise VerificationFailed(
                f"{where}: header {field} {header.get(field)!r} differs from the manifest"
            )
    return Opened(snapshot, header, doc, key)


def check_packs(reader: SnapshotReader, opened: Opened) -> list[str]:
    """Problems with the pack objects' presence and sizes (missing or truncated packs)."""
    problems = []
    for pack in opened.doc["packs"]:
        size = reader.size(pack["name"])
        if size is None:
            problems.append(f"{pack['name']}: missing")
        elif size != pack["size"]:
            kind = "truncated" if size < pack["size"] else "has extra bytes"
            problems.append(f"{pack['name']}: {kind} ({size} bytes, manifest says {pack['size']})")
    return problems


def read_chunk(reader: SnapshotReader, opened: Opened, entry: dict[str, Any], index: int) -> bytes:
    """Chunk ``index`` of a file entry: fetched, authenticated, decrypted and hash-checked."""
    chunk = entry["chunks"][index]
    pack = opened.doc["packs"][chunk["pack"]]["name"]
    data = reader.read(pack, chunk["offset"], chunk["length"])
    if len(data) != chunk["length"]:
        raise VerificationFailed(
            f"chunk {index} of {entry['path']!r}: truncated ({len(data)} of {chunk['length']} bytes "
            f"at offset {chunk['offset']} of {pack})"
        )
    plain = decrypt_chunk(opened.aead, chunk["seq"], entry["path"], index, data)
    if len(plain) != chunk["size"] or hashlib.sha256(plain).hexdigest() != chunk["sha256"]:
        raise VerificationFailed(f"chunk {index} of {entry['path']!r}: sha256 differs from the manifest")
    return plain


def list_snapshots(store: SnapshotStore) -> list[dict[str, Any]]:
    """id, tag, time, sizes, file count and lock state of every complete snapshot, oldest first."""
    rows: list[dict[str, Any]] = []
    for snapshot in store.ids():
        try:
            header = read_header(store, snapshot)
        except VerificationFailed as exc:
            rows.append({"id": snapshot, "error": str(exc)})
            continue
        summary = header.get("summary") or {}
        lock = store.lock_state(snapshot)
        row: dict[str, Any] = {
            "id": snapshot,
            "tag": header.get("tag"),
            "created_at": header.get("created_at"),
            "bytes": summary.get("bytes"),
            "stored_bytes": summary.get("stored_bytes"),
            "files": summary.get("files"),
            "key": (header.get("key") or {}).get("provider"),
            "lock": lock.to_dict(),
        }
        rows.append(row)
    rows.sort(key=lambda r: (str(r.get("created_at")), r["id"]))
    return rows


def resolve(store: SnapshotStore, snapshot: str | None = None, tag: str | None = None) -> str:
    """A snapshot id given directly, or the newest snapshot carrying ``tag``."""
    if snapshot:
        if snapshot not in store.ids():
            raise ConfigError(f"snapshot {snapshot} not found in {store.describe()}")
        return snapshot
    if not tag:
        raise ConfigError("name a snapshot id or --tag")
    tagged = [r for r in list_snapshots(store) if r.get("tag") == tag]
    if not tagged:
        raise ConfigError(f"no snapshot with tag {tag!r} in {store.describe()}")
    return str(tagged[-1]["id"])
