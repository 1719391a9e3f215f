"""The object store interface: put, head, get (ranged), list and delete versions of objects in one
container (an S3 bucket today).

Every put carries a SHA-256 the store verifies, and optionally refuses to overwrite or applies
retention (Object Lock). Implementations translate their own failures into drill errors
(``harness.aws.errors.translate`` for S3), naming the object and never a credential.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from harness.clock import utc_iso
from harness.errors import ConfigError, ProviderError

#: How many bytes a get yields at a time.
BLOCK = 1 << 20


class ObjectMissing(ConfigError):
    """The object (or the version asked for) does not exist."""


class TransferCut(ProviderError):
    """A transfer was cut mid-way (dropped connection, timeout): a ranged get may resume it."""


@dataclass(frozen=True)
class LockState:
    """An object's retention: a lock mode until a time, or a legal hold."""

    mode: str | None = None
    until: datetime | None = None
    legal_hold: bool = False

    def locked(self, now: datetime | None = None) -> bool:
        active = self.until is not None and self.until > (now or datetime.now(UTC))
        return self.legal_hold or (self.mode is not None and active)

    def to_dict(self) -> dict[str, Any]:
        return {
            "locked": self.locked(),
            "state": self.describe(),
            "mode": self.mode,
            "until": utc_iso(self.until) if self.until else None,
            "legal_hold": self.legal_hold,
        }

    def describe(self) -> str:
        if not self.locked():
            return "unlocked"
        if self.legal_hold:
            return "legal hold"
        assert self.until is not None
        return f"{self.mode} until {self.until.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class Retention:
    """Retention applied at put: the object cannot be deleted or overwritten before ``until``."""

    mode: str  # GOVERNANCE | COMPLIANCE
    until: datetime


@dataclass(frozen=True)
class PutOptions:
    """How an object is stored. The SHA-256 is always sent; ``sha256_b64`` is a full-object digest
    computed beforehand (else the client computes it). ``if_absent`` refuses to overwrite (``put``)."""

    sha256_b64: str | None = None
    if_absent: bool = False
    retention: Retention | None = None
    encryption: str | None = None  # server-side encryption algorithm
    kms_key: str | None = None
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Multipart:
    """When and how a file goes in parts: at ``threshold`` bytes, ``part_size`` parts, ``concurrency``
    at a time (memory stays within part size x concurrency)."""

    threshold: int
    part_size: int
    concurrency: int


@dataclass(frozen=True)
class ObjectHead:
    """What the store reports about one object version (of one part, when asked for a part)."""

    key: str
    size: int
    version_id: str | None
    etag: str
    sha256: str | None = None  # the store's checksum as it reports it (composite ones end in -<parts>)
    parts: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    encryption: str | None = None
    kms_key: str | None = None
    lock: LockState = field(default_factory=LockState)


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str
    delete_marker: bool  # a delete marker carries no data and no retention
    latest: bool  # the key's current version (a latest delete marker hides the key)


class ObjectStore(Protocol):
    """Objects in one container. ``what`` arguments name the operation in error messages."""

    def uri(self, key: str = "") -> str:
        """The object's (or prefix's) address, for messages and evidence."""

    def check(self) -> None:
        """Raise ConfigError/ProviderError when the container is missing or unreachable."""

    def retention_enabled(self, *, what: str | None = None) -> bool:
        """Whether the container has Object Lock, so puts may carry :class:`Retention`."""

    def part_size(self, size: int, multipart: Multipart) -> int | None:
        """The part size :meth:`put_file` uses for ``size`` bytes; None for a single request."""

    def put(self, key: str, data: bytes, options: PutOptions, *, what: str | None = None) -> None:
        """Store ``data``; AlreadyExists when ``options.if_absent`` and the key exists."""

    def put_file(
        self, key: str, path: Path, options: PutOptions, multipart: Multipart, *, what: str | None = None
    ) -> None:
        """Store a file, in parts when large; parts left behind by a failure are aborted."""

    def head(
        self,
        key: str,
        version: str | None = None,
        *,
        part: int | None = None,
        checksum: bool = False,
        what: str | None = None,
    ) -> ObjectHead | None:
        """The object (version, part) as stored, with its checksum when asked; None if missing."""

    def get(
        self,
        key: str,
        version: str | None = None,
        *,
        start: int = 0,
        if_match: str | None = None,
        what: str | None = None,
    ) -> Iterator[bytes]:
        """The bytes from ``start`` in blocks; ObjectMissing, or TransferCut when the connection drops."""

    def list_prefixes(self, prefix: str) -> list[str]:
        """The names one level below ``prefix`` (``a/`` holding ``a/b/c`` gives ``b``)."""

    def list_keys(self, prefix: str, *, what: str | None = None) -> list[str]:
        """Every key under ``prefix``, at any depth, in key order (all pages)."""

    def versions(self, prefix: str, *, what: str | None = None) -> list[ObjectVersion]:
        """Every version and delete marker under ``prefix``."""

    def delete_version(self, key: str, version: str) -> None:
        """Delete one version; RefusedError when the store refuses (retention)."""
