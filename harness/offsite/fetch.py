"""Fetch an archive from S3 into a local directory, checksum-verified, atomically.

The object (one pinned version) is streamed to a temporary file while its SHA-256 (and, for
multipart objects, the per-part digests) are computed; a dropped connection resumes with a
ranged GET of the same version. The file is renamed into place only when the bytes match the
store's checksum, the SHA-256 recorded at upload and the caller's expectation; otherwise it is
deleted and the fetch fails (exit 1).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.aws.errors import translate
from harness.aws.s3 import check_bucket
from harness.errors import ArchiveError, ConfigError
from harness.objectstore.base import ObjectHead, ObjectStore, TransferCut
from harness.objectstore.s3 import S3ObjectStore
from harness.offsite.checksums import PartHasher, display, split_store_value
from harness.offsite.keys import S3Uri


@dataclass
class FetchResult:
    uri: S3Uri
    version_id: str | None
    path: Path
    size_bytes: int
    sha256: str
    store_checksum: str | None
    checksum_type: str
    checks: list[str]
    seconds: float
    resumed: int = 0

    @property
    def mb_per_second(self) -> float:
        return self.size_bytes / 1e6 / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive_uri": str(self.uri),
            "version_id": self.version_id,
            # Absolute: the evidence scrubber reads a relative path as one long token-like run.
            "local_path": str(self.path.resolve()),
            "size_bytes": self.size_bytes,
            "sha256": f"sha256:{self.sha256}",
            "store_checksum": self.store_checksum,
            "checksum_type": self.checksum_type,
            "verified_against": self.checks,
            "resumed_after_errors": self.resumed,
            "seconds": round(self.seconds, 3),
        }


def _head(objects: ObjectStore, uri: S3Uri, part: int | None = None) -> ObjectHead:
    head = objects.head(uri.key, uri.version_id, part=part, checksum=True, what=str(uri))
    if head is None:
        version = f" (version {uri.version_id})" if uri.version_id else ""
        raise ConfigError(f"{uri}{version}: no such object in the bucket")
    return head


def _part_size(
    objects: ObjectStore, uri: S3Uri, version_id: str | None, stored_parts: int | None
) -> int | None:
    """The part size of a multipart object (from part 1), or None for a single-part object."""
    first = _head(objects, S3Uri(uri.bucket, uri.key, version_id), part=1)
    parts = first.parts or stored_parts
    return first.size if parts and parts > 1 else None


def _stream(
    objects: ObjectStore,
    uri: S3Uri,
    version_id: str | None,
    etag: str,
    handle: Any,
    hasher: PartHasher,
    attempts: int,
) -> int:
    """Copy the object into ``handle``; resume with a ranged GET after a dropped connection."""
    resumed = 0
    what = f"download of {uri}"
    while True:
        try:
            for block in objects.get(uri.key, version_id, start=hasher.size, if_match=etag, what=what):
                handle.write(block)
                hasher.update(block)
            return resumed
        except TransferCut:
            resumed += 1
            if resumed >= attempts:
                raise
            time.sleep(min(2.0, 0.2 * 2**resumed))
        except Exception as exc:
            raise translate(exc, what) from None


def fetch_archive(
    s3: Any,
    uri: S3Uri,
    dest_dir: Path,
    *,
    region: str | None = None,
    expected_sha256: str | None = None,
    attempts: int = 5,
) -> FetchResult:
    """Download ``uri`` into ``dest_dir/<basename>`` and verify it; the result names what it checked."""
    if not uri.key or uri.key.endswith("/"):
        raise ConfigError(f"{uri}: name one archive object, not a bucket or prefix")
    final = dest_dir / uri.basename
    if final.exists():
        raise ConfigError(f"{final} already exists; refusing to overwrite it")
    if region:
        check_bucket(s3, uri.bucket, region, tolerate_forbidden=True)
    started = time.perf_counter()
    objects = S3ObjectStore(s3, uri.bucket)
    head = _head(objects, uri)
    version_id = head.version_id or uri.version_id
    stored_b64, stored_parts = split_store_value(head.sha256) if head.sha256 else (None, None)
    part_size = _part_size(objects, uri, version_id, stored_parts) if head.sha256 else None
    dest_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest_dir / f".{uri.basename}.{secrets.token_hex(4)}.partial"
    hasher = PartHasher(part_size)
    try:
        with tmp.open("wb") as handle:
            resumed = _stream(objects, uri, version_id, head.etag, handle, hasher, attempts)
        checks = _verify(uri, head, hasher, stored_b64, part_size, expected_sha256)
        if final.exists():  # appeared while downloading
            raise ConfigError(f"{final} already exists; refusing to overwrite it")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return FetchResult(
        uri=S3Uri(uri.bucket, uri.key, version_id),
        version_id=version_id,
        path=final,
        size_bytes=hasher.size,
        sha256=hasher.hexdigest(),
        store_checksum=display(stored_b64, hasher.parts if part_size else None) if stored_b64 else None,
        checksum_type="COMPOSITE" if part_size else "FULL_OBJECT",
        checks=checks,
        seconds=time.perf_counter() - started,
        resumed=resumed,
    )


def _verify(
    uri: S3Uri,
    head: ObjectHead,
    hasher: PartHasher,
    stored_b64: str | None,
    part_size: int | None,
    expected_sha256: str | None,
) -> list[str]:
    """Compare the downloaded bytes with every reference available; at least one is required."""
    checks: list[str] = []
    if hasher.size != head.size:
        raise ArchiveError(f"{uri}: downloaded {hasher.size} bytes, the store reports {head.size}")
    if stored_b64:
        actual = hasher.store_b64(composite=part_size is not None)
        parts = hasher.parts if part_size else None
        if actual != stored_b64:
            raise ArchiveError(
                f"{uri}: checksum mismatch: the downloaded bytes hash to {display(actual, parts)} "
                f"but the store recorded {display(stored_b64, parts)}"
            )
        checks.append("store ChecksumSHA256" + (" (composite)" if part_size else ""))
    recorded = head.metadata.get("sha256")
    if recorded:
        if recorded != hasher.hexdigest():
            raise ArchiveError(
                f"{uri}: checksum mismatch: sha256:{hasher.hexdigest()} differs from the sha256:{recorded} "
                "recorded at upload"
            )
        checks.append("sha256 recorded at upload")
    if expected_sha256:
        if expected_sha256 != hasher.hexdigest():
            raise ArchiveError(
                f"{uri}: checksum mismatch: sha256:{hasher.hexdigest()} differs from the archive that was "
                f"uploaded (sha256:{expected_sha256})"
            )
        checks.append("sha256 of the local archive")
    if not checks:
        raise ArchiveError(
            f"{uri}: the object carries no checksum to verify against (upload it with an S3 SHA-256 "
            "checksum, e.g. aws s3 cp --checksum-algorithm SHA256, or with drill)"
        )
    return checks


def fetch_uri(
    uri: str, work_dir: Path, *, expected_sha256: str | None = None, provider: str | None = None
) -> Path:
    """Download an s3:// archive (checksum-verified) into a fresh directory under ``work_dir``."""
    return fetch_uri_result(uri, work_dir, expected_sha256=expected_sha256, provider=provider).path


def fetch_uri_result(
    uri: str, work_dir: Path, *, expected_sha256: str | None = None, provider: str | None = None
) -> FetchResult:
    """:func:`fetch_uri`, returning the whole result (version id, checksums checked)."""
    from harness.aws.oneoff import endpoint_for
    from harness.offsite.client import s3_client
    from harness.offsite.keys import parse_s3_uri

    parsed = parse_s3_uri(uri)
    dest = Path(work_dir) / f"fetched-{secrets.token_hex(4)}"
    with endpoint_for(provider) as endpoint:
        result = fetch_archive(
            s3_client(endpoint), parsed, dest, region=endpoint.region, expected_sha256=expected_sha256
        )
    sys.stderr.write(
        f"drill: fetched {result.uri} version {result.version_id} ({result.size_bytes} bytes); "
        f"verified against {', '.join(result.checks)}\n"
    )
    return result
