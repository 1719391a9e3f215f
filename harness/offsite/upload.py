"""Upload an export archive to ``<prefix>/<environment>/<YYYY-MM-DD>/<name>-<generated-at>.tar.gz``.

Only after a posture check of the same bucket that allows it. Server-side encryption and a
SHA-256 the store verifies (``ChecksumAlgorithm``; the precomputed digest for single-part
uploads, per-part digests for multipart); large archives go multipart with bounded memory
(part size x concurrency) through s3transfer; throttling, 5xx and connection resets are
retried by botocore's retry config. When an upload fails or is interrupted, its multipart
upload is aborted (s3transfer's own clean-up, then a sweep of the key) so nothing is left
behind. The stored object is then read back (HEAD) and its size, checksum and encryption
compared with the local archive.
"""

from __future__ import annotations

import json
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.aws.errors import translate
from harness.errors import ArchiveError, ConfigError, VerificationFailed
from harness.files import MANIFEST
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
        with tarfile.open(archive, mode="r|gz") as tar:
            for count, member in enumerate(tar):
                if count > 10_000:
                    break
                if member.name == MANIFEST and member.isreg() and member.size <= MAX_MANIFEST_BYTES:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        data: dict[str, Any] = json.loads(handle.read())
                        return data
    except (OSError, tarfile.TarError, ValueError, EOFError) as exc:
        raise ArchiveError(f"{archive}: cannot read {MANIFEST}: {exc}") from None
    raise ArchiveError(f"{archive}: no {MANIFEST} in the archive; not an export archive")


def part_size_for(size: int, transfer: TransferSettings) -> int | None:
    """The part size s3transfer will use for ``size`` bytes, or None for a single PUT."""
    if size < transfer.multipart_threshold:
        return None
    from s3transfer.utils import ChunksizeAdjuster

    adjusted: int = ChunksizeAdjuster().adjust_chunksize(transfer.part_size, size)
    return adjusted


def transfer_config(transfer: TransferSettings) -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=transfer.multipart_threshold,
        multipart_chunksize=transfer.part_size,
        max_concurrency=transfer.max_concurrency,
        use_threads=transfer.max_concurrency > 1,
    )


def abort_leftovers(s3: Any, bucket: str, key: str) -> int:
    """Abort every incomplete multipart upload of exactly ``key``; returns how many."""
    aborted = 0
    response = s3.list_multipart_uploads(Bucket=bucket, Prefix=key)
    for upload in response.get("Uploads", []):
        if upload.get("Key") == key:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload["UploadId"])
            aborted += 1
    return aborted


def _send(s3: Any, archive: Path, uri: S3Uri, extra: dict[str, Any], transfer: TransferSettings) -> None:
    """Run the transfer; on any failure abort what it left behind and raise a drill error."""
    from boto3.s3.transfer import create_transfer_manager

    try:
        with create_transfer_manager(s3, transfer_config(transfer)) as manager:
            manager.upload(str(archive), uri.bucket, uri.key, extra_args=extra).result()
    except BaseException as exc:
        try:
            aborted = abort_leftovers(s3, uri.bucket, uri.key)
            cleanup = f"; {aborted} incomplete multipart upload(s) aborted" if aborted else ""
        except Exception as sweep:
            cleanup = f"; could not confirm clean-up ({type(sweep).__name__})"
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        error = translate(exc, f"upload to {uri}")
        raise type(error)(f"{error}{cleanup}") from None


def _verify_stored(s3: Any, uri: S3Uri, local: PartHasher, composite: bool) -> dict[str, Any]:
    try:
        head: dict[str, Any] = s3.head_object(Bucket=uri.bucket, Key=uri.key, ChecksumMode="ENABLED")
    except Exception as exc:
        raise translate(exc, f"{uri} after upload") from None
    stored = head.get("ChecksumSHA256")
    if not stored:
        raise VerificationFailed(f"{uri}: the store kept no SHA-256 checksum for the object")
    value, _ = split_store_value(stored)
    if value != local.store_b64(composite):
        raise VerificationFailed(
            f"{uri}: the store's checksum {display(value, local.parts if composite else None)} differs "
            f"from the local archive's"
        )
    if head.get("ContentLength") != local.size:
        raise VerificationFailed(
            f"{uri}: stored {head.get('ContentLength')} bytes, the archive has {local.size}"
        )
    if not head.get("ServerSideEncryption"):
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
    size = path.stat().st_size
    part_size = part_size_for(size, transfer)
    local = hash_file(path, part_size)
    if expected_sha256 and local.hexdigest() != expected_sha256:
        raise ArchiveError(f"{path}: sha256 changed since it was archived")
    extra: dict[str, Any] = {
        "ChecksumAlgorithm": "SHA256",
        "ServerSideEncryption": sse,
        "ContentType": content_type,
        "Metadata": {"sha256": local.hexdigest(), **(metadata or {})},
    }
    if sse.startswith("aws:kms") and kms_key:
        extra["SSEKMSKeyId"] = kms_key
    if part_size is None:
        extra["ChecksumSHA256"] = local.store_b64(composite=False)  # the store verifies our digest
    _send(s3, path, uri, extra, transfer)
    head = _verify_stored(s3, uri, local, composite=part_size is not None)
    return StoredObject(
        uri=uri,
        version_id=head.get("VersionId"),
        size_bytes=size,
        sha256=local.hexdigest(),
        store_checksum=display(local.store_b64(part_size is not None), local.parts if part_size else None),
        checksum_type="COMPOSITE" if part_size else "FULL_OBJECT",
        parts=local.parts if part_size else 1,
        sse=head.get("ServerSideEncryption"),
        kms_key=head.get("SSEKMSKeyId"),
        seconds=time.perf_counter() - started,
        part_size=part_size,
    )
