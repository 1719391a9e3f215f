"""Upload an export archive to ``<prefix>/<environment>/<YYYY-MM-DD>/<name>-<generated-at>.tar.gz``.

Only after a posture check of the same bucket that allows it. Server-side encryption and a
SHA-256 the store verifies (the precomputed digest for single-part uploads, per-part digests for
multipart), through the object store (``harness.objectstore``): large archives go multipart with
bounded memory (part size x concurrency), and a failed or interrupted upload leaves nothing
behind. The stored object is then read back (HEAD) and its size, checksum and encryption
compared with the local archive.
"""

from __future__ import annotations

import json
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from harness.archive.codecs import StreamError, open_decoder
from harness.errors import ArchiveError, ConfigError, VerificationFailed
from harness.files import MANIFEST
from harness.objectstore.base import ObjectHead, ObjectStore, PutOptions
from harness.objectstore.s3 import S3ObjectStore
from harness.offsite.checksums import PartHasher, display, hash_file, split_store_value
from harness.offsite.keys import S3Uri, archive_key
from harness.offsite.posture import PostureReport
from harness.offsite.settings import TransferSettings
from harness.secrets import scan_text

MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MANIFEST_FIELDS = ("generated_at", "schema_version", "export_format_version", "entity_counts", "checksums")


@dataclass
class StoredObject:
    """One file stored by :func:`put_verified`. Never credentials, session tokens or presigned URLs."""

    uri: S3Uri
    version_id: str | None
    size_bytes: int
    sha256: str
    store_checksum: str
    checksum_type: str
    parts: int
    sse: str | None
    kms_key: str | None
    seconds: float
    part_size: int | None = None

    @property
    def mb_per_second(self) -> float:
        return self.size_bytes / 1e6 / self.seconds if self.seconds else 0.0

    def _with_version_hex(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.version_id and scan_text(self.version_id):
            # Real S3 version ids are long base64-like strings the evidence scrubber would hide.
            out["version_id_hex"] = self.version_id.encode().hex()
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uri": str(self.uri),
            "version_id": self.version_id,
            "size_bytes": self.size_bytes,
            "sha256": f"sha256:{self.sha256}",
            "store_checksum": self.store_checksum,
            "checksum_type": self.checksum_type,
            "parts": self.parts,
            "server_side_encryption": {"algorithm": self.sse, "kms_key": self.kms_key},
        }
        return self._with_version_hex(out)


@dataclass
class UploadResult(StoredObject):
    """An export archive as stored, with its manifest summary. Never credentials, session tokens or
    presigned URLs."""

    manifest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "archive_uri": str(self.uri),
            "bucket": self.uri.bucket,
            "version_id": self.version_id,
            "generated_at": self.manifest.get("generated_at"),
            "schema_version": self.manifest.get("schema_version"),
            "export_format_version": self.manifest.get("export_format_version"),
            "entity_counts": self.manifest.get("entity_counts", {}),
            "checksums": {
                "archive_sha256": f"sha256:{self.sha256}",
                "store": {"algorithm": "SHA256", "type": self.checksum_type, "value": self.store_checksum},
                "verified_by_store": True,
                "entity_files": self.manifest.get("checksums", {}),
            },
            "size_bytes": self.size_bytes,
            "multipart": {"parts": self.parts, "part_size_bytes": self.part_size},
            "server_side_encryption": {"algorithm": self.sse, "kms_key": self.kms_key},
            "seconds": round(self.seconds, 3),
        }
        return self._with_version_hex(out)


def read_manifest(archive: Path) -> dict[str, Any]:
    """``manifest.json`` from an export archive, read from the stream (nothing is extracted)."""
    try:
        with archive.open("rb") as raw:
            decoded = cast(IO[bytes], open_decoder(raw, archive.name))  # gzip, or zstd (.tar.zst)
            with tarfile.open(fileobj=decoded, mode="r|") as tar:
                for count, member in enumerate(tar):
                    if count > 10_000:
                        break
                    if (
                        member.name.removeprefix("./") == MANIFEST
                        and member.isreg()
                        and member.size <= MAX_MANIFEST_BYTES
                    ):
                        handle = tar.extractfile(member)
                        if handle is not None:
                            data: dict[str, Any] = json.loads(handle.read())
                            return data
    except (OSError, tarfile.TarError, ValueError, EOFError, StreamError) as exc:
        raise ArchiveError(f"{archive}: cannot read {MANIFEST}: {exc}") from None
    raise ArchiveError(f"{archive}: no {MANIFEST} in the archive; not an export archive")


def _verify_stored(objects: ObjectStore, uri: S3Uri, local: PartHasher, composite: bool) -> ObjectHead:
    head = objects.head(uri.key, checksum=True, what=f"{uri} after upload")
    if head is None:
        raise ConfigError(f"{uri} after upload: not found")
    if not head.sha256:
        raise VerificationFailed(f"{uri}: the store kept no SHA-256 checksum for the object")
    value, _ = split_store_value(head.sha256)
    if value != local.store_b64(composite):
        raise VerificationFailed(
            f"{uri}: the store's checksum {display(value, local.parts if composite else None)} differs "
            f"from the local archive's"
        )
    if head.size != local.size:
        raise VerificationFailed(f"{uri}: stored {head.size} bytes, the archive has {local.size}")
    if not head.encryption:
        raise VerificationFailed(f"{uri}: the object was stored without server-side encryption")
    return head


def upload_archive(
    s3: Any,
    archive: Path,
    *,
    bucket: str,
    prefix: str,
    environment: str,
    name: str,
    posture: PostureReport,
    transfer: TransferSettings,
    manifest: dict[str, Any] | None = None,
    expected_sha256: str | None = None,
) -> UploadResult:
    """Upload ``archive`` after a posture check of ``bucket`` that allows it; verify what was stored."""
    if (posture.bucket, posture.prefix) != (bucket, prefix):
        raise ConfigError(
            f"the posture check was for s3://{posture.bucket}/{posture.prefix}, not s3://{bucket}/{prefix}"
        )
    if not posture.allows_upload:
        raise VerificationFailed(f"upload blocked by the bucket posture: {posture.summary()}")
    manifest = manifest if manifest is not None else read_manifest(archive)
    missing = [k for k in MANIFEST_FIELDS if k not in manifest]
    if missing:
        raise ArchiveError(f"{archive}: manifest lacks {', '.join(missing)}")
    uri = S3Uri(bucket, archive_key(prefix, environment, manifest["generated_at"], name))
    sse = transfer.sse or posture.default_encryption.get("algorithm") or "AES256"
    stored = put_verified(
        s3,
        archive,
        uri,
        transfer=transfer,
        sse=sse,
        kms_key=transfer.kms_key or posture.default_encryption.get("kms_key"),
        content_type="application/gzip",
        metadata={
            "generated-at": manifest["generated_at"],
            "export-format-version": str(manifest["export_format_version"]),
        },
        expected_sha256=expected_sha256,
    )
    return UploadResult(**vars(stored), manifest={k: manifest[k] for k in MANIFEST_FIELDS})


def put_verified(
    s3: Any,
    path: Path,
    uri: S3Uri,
    *,
    transfer: TransferSettings,
    sse: str,
    kms_key: str | None = None,
    content_type: str = "application/octet-stream",
    metadata: dict[str, str] | None = None,
    expected_sha256: str | None = None,
) -> StoredObject:
    """Store ``path`` at ``uri`` with server-side encryption and a SHA-256 the store verifies
    (multipart with bounded memory when large; leftovers aborted on failure), then read it back
    (HEAD) and compare. The caller checks the key and the posture; the SHA-256 also goes into the
    object's metadata for :func:`harness.offsite.fetch.fetch_archive`."""
    started = time.perf_counter()
    objects = S3ObjectStore(s3, uri.bucket)
    size = path.stat().st_size
    part_size = objects.part_size(size, transfer.multipart)
    local = hash_file(path, part_size)
    if expected_sha256 and local.hexdigest() != expected_sha256:
        raise ArchiveError(f"{path}: sha256 changed since it was archived")
    options = PutOptions(
        # single-part: the store verifies our digest; multipart: the per-part digests sent
        sha256_b64=local.store_b64(composite=False) if part_size is None else None,
        encryption=sse,
        kms_key=kms_key if sse.startswith("aws:kms") else None,
        content_type=content_type,
        metadata={"sha256": local.hexdigest(), **(metadata or {})},
    )
    objects.put_file(uri.key, path, options, transfer.multipart, what=f"upload to {uri}")
    head = _verify_stored(objects, uri, local, composite=part_size is not None)
    return StoredObject(
        uri=uri,
        version_id=head.version_id,
        size_bytes=size,
        sha256=local.hexdigest(),
        store_checksum=display(local.store_b64(part_size is not None), local.parts if part_size else None),
        checksum_type="COMPOSITE" if part_size else "FULL_OBJECT",
        parts=local.parts if part_size else 1,
        sse=head.encryption,
        kms_key=head.kms_key,
        seconds=time.perf_counter() - started,
        part_size=part_size,
    )
