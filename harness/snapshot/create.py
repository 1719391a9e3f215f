"""``drill snapshot create``: scan → chunk, hash and encrypt → packs → sealed manifest → commit."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.errors import ConfigError
from harness.schema_patterns import compile_pattern
from harness.snapshot.crypto import CIPHER, FORMAT, canonical_json, encrypt_chunk, seal_manifest
from harness.snapshot.keys import KeyProvider
from harness.snapshot.manifest import (
    DEFAULT_CHUNK_SIZE,
    TAG_PATTERN,
    ScanEntry,
    manifest_document,
    scan_tree,
    snapshot_id,
    utc_text,
)
from harness.snapshot.store_base import LockSpec, SnapshotStore, SnapshotWriter, pack_name

DEFAULT_PACK_SIZE = 32 * 2**20
MIN_CHUNK, MAX_CHUNK = 1024, 64 * 2**20


@dataclass(frozen=True)
class CreateResult:
    id: str
    header: dict[str, Any]
    manifest: bytes  # the plaintext manifest document (deterministic)
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        s = self.header["summary"]
        rate = s["bytes"] / self.seconds / 2**20 if self.seconds else 0.0
        return {
            "id": self.id,
            "tag": self.header["tag"],
            "created_at": self.header["created_at"],
            "summary": s,
            "seconds": round(self.seconds, 3),
            "mib_per_second": round(rate, 1),
        }


class _Packer:
    """Appends ciphertexts to the current pack; hands full packs to the writer."""

    def __init__(self, writer: SnapshotWriter, pack_size: int) -> None:
        self.writer, self.pack_size = writer, pack_size
        self.buffer = bytearray()
        self.packs: list[dict[str, Any]] = []

    def add(self, data: bytes) -> tuple[int, int]:
        if self.buffer and len(self.buffer) + len(data) > self.pack_size:
            self.flush()
        offset = len(self.buffer)
        self.buffer += data
        return len(self.packs), offset

    def flush(self) -> None:
        if self.buffer:
            name = pack_name(len(self.packs))
            self.writer.put(name, bytes(self.buffer))
            self.packs.append({"name": name, "size": len(self.buffer)})
            self.buffer = bytearray()


def _read_file(
    root: Path, entry: ScanEntry, chunk_size: int, aead: AESGCM, packer: _Packer, seq: int
) -> tuple[dict[str, Any], int]:
    """Chunk, hash and encrypt one regular file; refuse if it changed since the scan."""
    path = root / entry.path
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror or exc}") from None
    record = entry.record()
    chunks: list[dict[str, Any]] = []
    whole = hashlib.sha256()
    with os.fdopen(fd, "rb", buffering=0) as handle:
        before = os.fstat(handle.fileno())
        if not stat.S_ISREG(before.st_mode) or (before.st_dev, before.st_ino) != entry.inode:
            raise ConfigError(f"{path}: replaced during the snapshot; retry")
        total = 0
        while block := handle.read(chunk_size):
            whole.update(block)
            ciphertext = encrypt_chunk(aead, seq, entry.path, len(chunks), block)
            pack, offset = packer.add(ciphertext)
            chunks.append(
                {
                    "seq": seq,
                    "pack": pack,
                    "offset": offset,
                    "length": len(ciphertext),
                    "size": len(block),
                    "sha256": hashlib.sha256(block).hexdigest(),
                }
            )
            seq += 1
            total += len(block)
        after = os.fstat(handle.fileno())
    if total != entry.size or after.st_size != entry.size or after.st_mtime_ns != entry.mtime_ns:
        raise ConfigError(f"{path}: changed during the snapshot (size or mtime moved); retry")
    record.update(sha256=whole.hexdigest(), chunks=chunks)
    return record, seq


def create_snapshot(
    root: Path,
    store: SnapshotStore,
    keys: KeyProvider,
    *,
    tag: str,
    created_at: datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    pack_size: int = DEFAULT_PACK_SIZE,
    lock: LockSpec | None = None,
) -> CreateResult:
    """Snapshot the tree at ``root`` into ``store``; the manifest is deterministic in tree and clock."""
    if not compile_pattern(TAG_PATTERN)(tag):
        raise ConfigError(f"tag {tag!r} must match {TAG_PATTERN}")
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ConfigError(f"chunk_size must be between {MIN_CHUNK} and {MAX_CHUNK} bytes, not {chunk_size}")
    if pack_size < chunk_size:
        raise ConfigError(f"pack_size ({pack_size}) must be at least chunk_size ({chunk_size})")
    started = time.perf_counter()
    moment = (created_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    entries = scan_tree(root)
    ident = snapshot_id(moment, tag, entries)
    data_key, wrapped = keys.new_data_key(ident)
    aead = data_key.aead()
    writer = store.writer(ident, lock)
    try:
        packer, records, seq = _Packer(writer, pack_size), [], 0
        for entry in entries:
            if entry.type == "file":
                record, seq = _read_file(root, entry, chunk_size, aead, packer, seq)
                records.append(record)
            else:
                records.append(entry.record())
        packer.flush()
        doc = manifest_document(
            snapshot=ident,
            tag=tag,
            created_at=moment,
            chunk_size=chunk_size,
            entries=records,
            packs=packer.packs,
        )
        document = canonical_json(doc)
        header = {
            "format": FORMAT,
            "id": ident,
            "tag": tag,
            "created_at": utc_text(moment),
            "cipher": CIPHER,
            "key": wrapped,
            "summary": {**doc["totals"], "chunk_size": chunk_size},
            "manifest_sha256": hashlib.sha256(document).hexdigest(),
        }
        writer.commit(seal_manifest(data_key, header, document))
    except BaseException:
        writer.abort()
        raise
    return CreateResult(ident, header, document, time.perf_counter() - started)
