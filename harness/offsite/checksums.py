"""SHA-256 the way S3 stores it: a full-object digest, or for multipart objects a composite.

S3's composite SHA-256 is ``sha256(part1_digest || part2_digest || …)`` shown as base64 with a
``-<parts>`` suffix. Evidence shows digests in hex (``sha256:<hex>``, ``sha256-composite:<hex>-N``)
so they are never mistaken for tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from harness.files import sha256_file

CHUNK = 1 << 20


class PartHasher:
    """Full SHA-256 plus one SHA-256 per ``part_size`` bytes (when ``part_size`` is given)."""

    def __init__(self, part_size: int | None = None) -> None:
        self.part_size = part_size
        self.full = hashlib.sha256()
        self.size = 0
        self.part_digests: list[bytes] = []
        self._part = hashlib.sha256()
        self._part_left = part_size or 0

    def update(self, data: bytes) -> None:
        self.full.update(data)
        self.size += len(data)
        if not self.part_size:
            return
        view = memoryview(data)
        while view:
            take = min(self._part_left, len(view))
            self._part.update(view[:take])
            self._part_left -= take
            view = view[take:]
            if self._part_left == 0:
                self.part_digests.append(self._part.digest())
                self._part, self._part_left = hashlib.sha256(), self.part_size

    def _parts(self) -> list[bytes]:
        pending = self.part_size is not None and self._part_left != self.part_size
        return self.part_digests + ([self._part.digest()] if pending else [])

    def hexdigest(self) -> str:
        return self.full.hexdigest()

    @property
    def parts(self) -> int:
        return len(self._parts())

    def store_b64(self, composite: bool) -> str:
        """The value S3 reports in ChecksumSHA256 (without any ``-N`` suffix)."""
        digest = hashlib.sha256(b"".join(self._parts())).digest() if composite else self.full.digest()
        return base64.b64encode(digest).decode()


def hash_file(path: Path, part_size: int | None = None) -> PartHasher:
    """The full and per-part SHA-256 of a local file, streamed (ConfigError when unreadable)."""
    hasher = PartHasher(part_size)
    sha256_file(path, CHUNK, hasher)
    return hasher


def split_store_value(value: str) -> tuple[str, int | None]:
    """``"<b64>-3"`` → ``("<b64>", 3)``; ``"<b64>"`` → ``("<b64>", None)``."""
    head, sep, tail = value.rpartition("-")
    if sep and tail.isdigit():
        return head, int(tail)
    return value, None


def display(b64: str, parts: int | None = None) -> str:
    """A store checksum in evidence form: ``sha256:<hex>`` or ``sha256-composite:<hex>-<parts>``."""
    try:
        hexed = base64.b64decode(b64, validate=True).hex()
    except (binascii.Error, ValueError):
        return "sha256:unparseable"
    return f"sha256-composite:{hexed}-{parts}" if parts else f"sha256:{hexed}"
