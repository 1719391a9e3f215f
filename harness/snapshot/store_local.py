"""Local-directory snapshot store: ``<root>/<id>/{manifest.json,pack-NNNNNN}``.

A snapshot is written into ``<root>/.<id>.partial/`` and renamed to ``<root>/<id>/`` only
after its manifest is written, so a listed snapshot is always complete. Objects are
created with ``O_EXCL`` (never overwritten) and left read-only (0444).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, RefusedError
from harness.files import MANIFEST, write_once
from harness.snapshot.store_base import (
    LockSpec,
    SnapshotReader,
    SnapshotStore,
    SnapshotWriter,
    check_id,
    check_object,
    is_snapshot_id,
)

PARTIAL = ".partial"
WRITE_ONCE = "snapshot objects are write-once"


class DirWriter(SnapshotWriter):
    def __init__(self, root: Path, snapshot: str) -> None:
        self.final = root / snapshot
        self.partial = root / f".{snapshot}{PARTIAL}"
        if self.final.exists():
            raise RefusedError(f"{self.final}: snapshot already exists; snapshots are write-once")
        shutil.rmtree(self.partial, ignore_errors=True)  # leftover of an interrupted run
        try:
            self.partial.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(f"{self.partial}: cannot create: {exc.strerror or exc}") from None

    def put(self, name: str, data: bytes) -> None:
        write_once(self.partial / check_object(name), data, mode=0o444, refusal=WRITE_ONCE)

    def commit(self, manifest: bytes) -> None:
        self.put(MANIFEST, manifest)
        if self.final.exists():
            raise RefusedError(f"{self.final}: snapshot appeared while writing; not replacing it")
        os.rename(self.partial, self.final)

    def abort(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)


class DirReader(SnapshotReader):
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def size(self, name: str) -> int | None:
        try:
            return (self.directory / check_object(name)).lstat().st_size
        except FileNotFoundError:
            return None

    def read(self, name: str, offset: int, length: int) -> bytes:
        with open(self.directory / check_object(name), "rb") as handle:
            handle.seek(offset)
            return handle.read(length)


class RootedStore(SnapshotStore):
    """A store kept in one local directory (``local`` and ``targz``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def describe(self) -> dict[str, Any]:
        return {"type": self.kind, "path": str(self.root)}

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"{self.root}: cannot create the store directory: {exc.strerror or exc}"
            ) from None

    def _names(self) -> list[str]:
        try:
            return sorted(p.name for p in self.root.iterdir())
        except FileNotFoundError:
            return []

    def incomplete(self) -> list[str]:
        """Staging directories ``.<id>.partial`` left by interrupted writes."""
        return [n[1 : -len(PARTIAL)] for n in self._names() if n.startswith(".") and n.endswith(PARTIAL)]

    def _existing(self, snapshot: str, name: str) -> Path:
        """``root/name`` for a snapshot that must exist (ConfigError if it does not)."""
        path = self.root / name
        if not path.is_file():
            raise ConfigError(f"snapshot {snapshot} not found in {self.root}")
        return path


class DirStore(RootedStore):
    kind = "local"

    def ids(self) -> list[str]:
        return [n for n in self._names() if is_snapshot_id(n) and (self.root / n / MANIFEST).is_file()]

    def writer(self, snapshot: str, lock: LockSpec | None) -> SnapshotWriter:
        self._no_lock(lock)
        self.check()
        return DirWriter(self.root, check_id(snapshot))

    def _dir(self, snapshot: str) -> Path:
        return self._existing(snapshot, f"{check_id(snapshot)}/{MANIFEST}").parent

    def reader(self, snapshot: str) -> SnapshotReader:
        return DirReader(self._dir(snapshot))

    def read_manifest(self, snapshot: str) -> bytes:
        return (self._dir(snapshot) / MANIFEST).read_bytes()

    def delete(self, snapshot: str) -> None:
        path = self._dir(snapshot)
        # Rename first so a half-deleted snapshot is never listed as complete.
        doomed = self.root / f".{snapshot}.deleting"
        os.rename(path, doomed)
        shutil.rmtree(doomed)
