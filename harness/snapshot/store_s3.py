"""S3 snapshot store (embedded moto, LocalStack or real AWS through ``harness.aws.providers``).

Objects live at ``<prefix><id>/<name>``. Every PUT carries a SHA-256 checksum and
``If-None-Match: *`` (an existing object is never overwritten) and, when configured,
Object Lock retention (GOVERNANCE or COMPLIANCE for N days), which requires a bucket created
with Object Lock enabled. Packs go first and the manifest last; a prefix without a manifest
is reported as incomplete. Deletion checks every version's retention and legal hold first and
refuses if any is locked; the harness never sends ``BypassGovernanceRetention``, so S3 itself
refuses as well.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from harness.aws.errors import error_code, translate
from harness.errors import ConfigError, RefusedError, VerificationFailed
from harness.files import MANIFEST
from harness.snapshot.store_base import (
    ID_RE,
    LockSpec,
    LockState,
    SnapshotReader,
    SnapshotStore,
    SnapshotWriter,
    check_id,
    check_object,
)


class S3Writer(SnapshotWriter):
    def __init__(self, store: S3Store, snapshot: str, lock: LockSpec | None) -> None:
        self.store, self.snapshot, self.lock = store, snapshot, lock
        self.written: list[str] = []
        self.until = datetime.now(UTC) + timedelta(days=lock.days) if lock else None

    def put(self, name: str, data: bytes) -> None:
        key = self.store.key(self.snapshot, check_object(name))
        extra: dict[str, Any] = {}
        if self.lock is not None:
            extra = {"ObjectLockMode": self.lock.mode, "ObjectLockRetainUntilDate": self.until}
        try:
            self.store.s3.put_object(
                Bucket=self.store.bucket,
                Key=key,
                Body=data,
                ChecksumAlgorithm="SHA256",  # botocore computes and sends it; S3 rejects a mismatch
                IfNoneMatch="*",
                **extra,
            )
        except Exception as exc:
            if error_code(exc)[0] in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise RefusedError(
                    f"s3://{self.store.bucket}/{key}: already exists; snapshot objects are write-once"
                ) from None
            raise translate(exc, f"S3 PutObject s3://{self.store.bucket}/{key}") from None
        self.written.append(name)

    def commit(self, manifest: bytes) -> None:
        self.put(MANIFEST, manifest)

    def abort(self) -> None:
        """Remove uploaded packs; locked ones stay (reported as an incomplete snapshot)."""
        if self.lock is None and self.written:
            try:
                self.store.delete(self.snapshot, require_manifest=False)
            except Exception:  # best effort: the snapshot is listed as incomplete
                return


class S3Reader(SnapshotReader):
    """Fetches a whole pack on first use and keeps the last one (chunks are read in pack order)."""

    def __init__(self, store: S3Store, snapshot: str) -> None:
        self.store, self.snapshot = store, snapshot
        self._cached: tuple[str, bytes] | None = None

    def size(self, name: str) -> int | None:
        head = self.store.head(self.snapshot, name)
        return None if head is None else int(head["ContentLength"])

    def _object(self, name: str) -> bytes:
        if self._cached is None or self._cached[0] != name:
            self._cached = (name, self.store.get(self.snapshot, name))
        return self._cached[1]

    def read(self, name: str, offset: int, length: int) -> bytes:
        return self._object(check_object(name))[offset : offset + length]

    def close(self) -> None:
        self._cached = None


class S3Store(SnapshotStore):
    kind = "s3"

    def __init__(self, endpoint: Any, bucket: str, prefix: str = "") -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.endpoint, self.bucket, self.prefix = endpoint, bucket, prefix
        self.s3 = endpoint.client("s3")

    def describe(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "endpoint": self.endpoint.describe(),
        }

    def key(self, snapshot: str, name: str) -> str:
        return f"{self.prefix}{check_id(snapshot)}/{name}"

    def supports_lock(self) -> bool:
        try:
            cfg = self.s3.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except Exception as exc:
            if error_code(exc)[0] in (
                "ObjectLockConfigurationNotFoundError",
                "ObjectLockConfigurationNotFound",
            ):
                return False
            raise translate(exc, f"S3 GetObjectLockConfiguration {self.bucket}") from None
        return bool(cfg.get("ObjectLockEnabled") == "Enabled")

    def check(self) -> None:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            raise translate(exc, f"S3 HeadBucket {self.bucket} (does the bucket exist?)") from None

    def _prefixes(self) -> tuple[list[str], list[str]]:
        complete: list[str] = []
        partial: list[str] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
            )
            found = [
                p["Prefix"][len(self.prefix) : -1] for page in pages for p in page.get("CommonPrefixes", [])
            ]
        except Exception as exc:
            raise translate(exc, f"S3 ListObjectsV2 s3://{self.bucket}/{self.prefix}") from None
        for snapshot in sorted(f for f in found if ID_RE.match(f)):
            (complete if self.head(snapshot, MANIFEST) is not None else partial).append(snapshot)
        return complete, partial

    def ids(self) -> list[str]:
        return self._prefixes()[0]

    def incomplete(self) -> list[str]:
        return self._prefixes()[1]

    def head(self, snapshot: str, name: str) -> dict[str, Any] | None:
        return self.head_key(self.key(snapshot, name))

    def head_key(self, key: str, version: str | None = None) -> dict[str, Any] | None:
        """HeadObject (of one version), or None if it does not exist."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version:
            args["VersionId"] = version
        try:
            head: dict[str, Any] = self.s3.head_object(**args)
        except Exception as exc:
            if error_code(exc)[0] in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
                return None
            raise translate(exc, f"S3 HeadObject s3://{self.bucket}/{key}") from None
        return head

    def get(self, snapshot: str, name: str) -> bytes:
        key = self.key(snapshot, name)
        try:
            data: bytes = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except Exception as exc:
            if error_code(exc)[0] in ("NoSuchKey", "404"):
                raise VerificationFailed(f"s3://{self.bucket}/{key}: object is missing") from None
            raise translate(exc, f"S3 GetObject s3://{self.bucket}/{key}") from None
        return data

    def writer(self, snapshot: str, lock: LockSpec | None) -> SnapshotWriter:
        if lock is not None and not self.supports_lock():
            raise ConfigError(
                f"bucket {self.bucket} does not have Object Lock enabled; object_lock needs a bucket "
                "created with Object Lock"
            )
        if self.head(check_id(snapshot), MANIFEST) is not None:
            raise RefusedError(f"snapshot {snapshot} already exists in s3://{self.bucket}/{self.prefix}")
        return S3Writer(self, snapshot, lock)

    def _require(self, snapshot: str) -> str:
        if self.head(snapshot, MANIFEST) is None:
            raise ConfigError(f"snapshot {snapshot} not found in s3://{self.bucket}/{self.prefix}")
        return snapshot

    def reader(self, snapshot: str) -> SnapshotReader:
        return S3Reader(self, self._require(snapshot))

    def read_manifest(self, snapshot: str) -> bytes:
        return self.get(self._require(snapshot), MANIFEST)

    @staticmethod
    def _state(head: dict[str, Any]) -> LockState:
        return LockState(
            mode=head.get("ObjectLockMode"),
            until=head.get("ObjectLockRetainUntilDate"),
            legal_hold=head.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def lock_state(self, snapshot: str) -> LockState:
        head = self.head(snapshot, MANIFEST)
        return LockState() if head is None else self._state(head)

    def _versions(self, snapshot: str) -> list[tuple[str, str, bool]]:
        """``(key, version id, is delete marker)`` of every version under the snapshot's prefix."""
        prefix = f"{self.prefix}{check_id(snapshot)}/"
        out: list[tuple[str, str, bool]] = []
        try:
            for page in self.s3.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                out += [(v["Key"], v["VersionId"], False) for v in page.get("Versions", [])]
                out += [(m["Key"], m["VersionId"], True) for m in page.get("DeleteMarkers", [])]
        except Exception as exc:
            raise translate(exc, f"S3 ListObjectVersions s3://{self.bucket}/{prefix}") from None
        return out

    def delete_object(self, snapshot: str, name: str) -> None:
        """Delete every version of one object; refused if any version is locked."""
        self._delete([v for v in self._versions(snapshot) if v[0] == self.key(snapshot, name)])

    def delete(self, snapshot: str, *, require_manifest: bool = True) -> None:
        self._delete(self._versions(self._require(snapshot) if require_manifest else snapshot))

    def _delete(self, versions: list[tuple[str, str, bool]]) -> None:
        """Check every version's retention and legal hold first; delete nothing if any is locked."""
        locked = []
        for key, version, marker in versions:
            if marker:  # delete markers carry no data and no retention
                continue
            head = self.head_key(key, version)
            state = self._state(head or {})
            if state.locked():
                locked.append(f"{key} ({state.describe()})")
        if locked:
            raise RefusedError(
                f"refusing to delete from s3://{self.bucket}: {len(locked)} object version(s) are "
                f"retention-locked: {', '.join(locked[:3])}"
            )
        # Manifest first, so an interrupted delete leaves an incomplete snapshot, never a broken one.
        ordered = sorted(versions, key=lambda v: not v[0].endswith("/" + MANIFEST))
        for key, version, _ in ordered:
            try:
                self.s3.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
            except Exception as exc:
                if error_code(exc)[0] == "AccessDenied":
                    raise RefusedError(
                        f"s3://{self.bucket}/{key}: S3 refused the delete (AccessDenied)"
                    ) from None
                raise translate(exc, f"S3 DeleteObject s3://{self.bucket}/{key}") from None
