"""S3 snapshot store (embedded moto, LocalStack or real AWS), on the object store (``harness.objectstore``).

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

from harness.errors import AlreadyExists, ConfigError, RefusedError, VerificationFailed
from harness.files import MANIFEST
from harness.objectstore.base import (
    LockState,
    ObjectHead,
    ObjectMissing,
    ObjectStore,
    ObjectVersion,
    PutOptions,
    Retention,
)
from harness.objectstore.s3 import S3ObjectStore
from harness.snapshot.store_base import (
    LockSpec,
    SnapshotReader,
    SnapshotStore,
    SnapshotWriter,
    check_id,
    check_object,
    is_snapshot_id,
)


class S3Writer(SnapshotWriter):
    def __init__(self, store: S3Store, snapshot: str, lock: LockSpec | None) -> None:
        self.store, self.snapshot, self.lock = store, snapshot, lock
        self.written: list[str] = []
        retention = Retention(lock.mode, datetime.now(UTC) + timedelta(days=lock.days)) if lock else None
        self.options = PutOptions(if_absent=True, retention=retention)

    def put(self, name: str, data: bytes) -> None:
        key = self.store.key(self.snapshot, check_object(name))
        try:
            self.store.objects.put(key, data, self.options)
        except AlreadyExists as exc:
            raise RefusedError(f"{exc}; snapshot objects are write-once") from None
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
        return None if head is None else head.size

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
        self.objects: ObjectStore = S3ObjectStore(self.s3, bucket)

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
        return self.objects.retention_enabled()

    def check(self) -> None:
        self.objects.check()

    def _prefixes(self) -> tuple[list[str], list[str]]:
        complete: list[str] = []
        partial: list[str] = []
        for snapshot in sorted(f for f in self.objects.list_prefixes(self.prefix) if is_snapshot_id(f)):
            (complete if self.head(snapshot, MANIFEST) is not None else partial).append(snapshot)
        return complete, partial

    def ids(self) -> list[str]:
        return self._prefixes()[0]

    def incomplete(self) -> list[str]:
        return self._prefixes()[1]

    def head(self, snapshot: str, name: str) -> ObjectHead | None:
        return self.objects.head(self.key(snapshot, name))

    def get(self, snapshot: str, name: str) -> bytes:
        key = self.key(snapshot, name)
        try:
            return b"".join(self.objects.get(key))
        except ObjectMissing:
            raise VerificationFailed(f"{self.objects.uri(key)}: object is missing") from None

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

    def lock_state(self, snapshot: str) -> LockState:
        head = self.head(snapshot, MANIFEST)
        return LockState() if head is None else head.lock

    def _versions(self, snapshot: str) -> list[ObjectVersion]:
        """Every version and delete marker under the snapshot's prefix."""
        return self.objects.versions(f"{self.prefix}{check_id(snapshot)}/")

    def delete_object(self, snapshot: str, name: str) -> None:
        """Delete every version of one object; refused if any version is locked."""
        self._delete([v for v in self._versions(snapshot) if v.key == self.key(snapshot, name)])

    def delete(self, snapshot: str, *, require_manifest: bool = True) -> None:
        self._delete(self._versions(self._require(snapshot) if require_manifest else snapshot))

    def _delete(self, versions: list[ObjectVersion]) -> None:
        """Check every version's retention and legal hold first; delete nothing if any is locked."""
        locked = []
        for version in versions:
            if version.delete_marker:  # delete markers carry no data and no retention
                continue
            head = self.objects.head(version.key, version.version_id)
            state = head.lock if head is not None else LockState()
            if state.locked():
                locked.append(f"{version.key} ({state.describe()})")
        if locked:
            raise RefusedError(
                f"refusing to delete from s3://{self.bucket}: {len(locked)} object version(s) are "
                f"retention-locked: {', '.join(locked[:3])}"
            )
        # Manifest first, so an interrupted delete leaves an incomplete snapshot, never a broken one.
        for version in sorted(versions, key=lambda v: not v.key.endswith("/" + MANIFEST)):
            self.objects.delete_version(version.key, version.version_id)
