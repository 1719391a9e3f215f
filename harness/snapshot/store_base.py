"""Snapshot store interface shared by the local-directory, tar.gz and S3 backends.

A snapshot is a set of flat objects: ``manifest.json`` (the sealed manifest) and
``pack-NNNNNN`` (concatenated encrypted chunks). Writers put the packs first and the
manifest last, and backends make the snapshot visible only once the manifest is in
place, so a half-written snapshot never looks complete. Objects are write-once: putting
an existing name is refused, and deleting a retention-locked object is refused.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from harness.errors import ConfigError, VerificationFailed
from harness.objectstore.base import LockState
from harness.schema_patterns import compile_pattern

#: Whole-name tests in RE2 (``$`` is the end of the name; a name that is not valid Unicode, as a
#: listing may hold, matches nothing).
is_snapshot_id = compile_pattern(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")
is_object_name = compile_pattern(r"^(manifest\.json|pack-[0-9]{6})$")
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


def pack_name(index: int) -> str:
    return f"pack-{index:06d}"


def check_id(snapshot: str) -> str:
    if not is_snapshot_id(snapshot):
        raise ConfigError(f"{snapshot!r} is not a snapshot id (like 20261123T091500Z-1a2b3c4d)")
    return snapshot


def check_object(name: str) -> str:
    if not is_object_name(name):
        raise VerificationFailed(f"{name!r} is not a snapshot object name")
    return name


@dataclass(frozen=True)
class LockSpec:
    """Object Lock retention applied to every object of a snapshot."""

    mode: str
    days: int

    def __post_init__(self) -> None:
        if self.mode not in LOCK_MODES:
            raise ConfigError(f"object_lock.mode must be GOVERNANCE or COMPLIANCE, not {self.mode!r}")
        if not 1 <= self.days <= 36500:
            raise ConfigError(f"object_lock.days must be between 1 and 36500, not {self.days!r}")


class SnapshotWriter(ABC):
    """Receives one snapshot's objects; ``commit`` makes it visible, ``abort`` removes what it can."""

    @abstractmethod
    def put(self, name: str, data: bytes) -> None: ...

    @abstractmethod
    def commit(self, manifest: bytes) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class SnapshotReader(ABC):
    """Reads one snapshot's objects; use as a context manager."""

    @abstractmethod
    def size(self, name: str) -> int | None:
        """The object's size, or None if it is missing."""

    @abstractmethod
    def read(self, name: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer when the object is shorter)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release temporary resources."""

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SnapshotStore(ABC):
    kind: str = ""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Where snapshots live (no credentials)."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Raise ConfigError/ProviderError when the store is unusable."""

    @abstractmethod
    def ids(self) -> list[str]:
        """Complete snapshots (manifest present), sorted."""

    def incomplete(self) -> list[str]:
        """Snapshots whose manifest never arrived (interrupted writes)."""
        return []

    @abstractmethod
    def writer(self, snapshot: str, lock: LockSpec | None) -> SnapshotWriter: ...

    @abstractmethod
    def reader(self, snapshot: str) -> SnapshotReader: ...

    @abstractmethod
    def read_manifest(self, snapshot: str) -> bytes: ...

    def lock_state(self, snapshot: str) -> LockState:
        return LockState()

    @abstractmethod
    def delete(self, snapshot: str) -> None:
        """Delete every object of ``snapshot``; refuse (RefusedError) if any is locked."""

    def supports_lock(self) -> bool:
        return False

    def _no_lock(self, lock: LockSpec | None) -> None:
        if lock is not None:
            raise ConfigError(f"the {self.kind} store cannot apply Object Lock retention (use an S3 store)")
