"""Single-file snapshot store: ``<root>/<id>.tar.gz`` per snapshot.

Writing stages the objects in a private directory and packs them with
:func:`harness.archive.create_archive` (deterministic tar.gz, manifest first, written
to ``.partial`` and renamed). Reading unpacks with :func:`harness.archive.extract_archive`
(hostile-archive checks plus tarfile's ``data`` filter) into a private temporary
directory, removed when the reader closes. Listing reads only the first member.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from harness.archive import create_archive, extract_archive
from harness.errors import ArchiveError, RefusedError, VerificationFailed
from harness.files import MANIFEST
from harness.snapshot.store_base import LockSpec, SnapshotReader, SnapshotWriter, check_id, is_snapshot_id
from harness.snapshot.store_local import DirReader, DirWriter, RootedStore

SUFFIX = ".tar.gz"
MAX_MANIFEST_BYTES = 256 * 2**20


class TarGzWriter(SnapshotWriter):
    def __init__(self, root: Path, snapshot: str) -> None:
        self.archive = root / f"{snapshot}{SUFFIX}"
        if self.archive.exists():
            raise RefusedError(f"{self.archive}: snapshot already exists; snapshots are write-once")
        self.staging = DirWriter(root, snapshot)

    def put(self, name: str, data: bytes) -> None:
        self.staging.put(name, data)

    def commit(self, manifest: bytes) -> None:
        self.staging.put(MANIFEST, manifest)
        if self.archive.exists():
            raise RefusedError(f"{self.archive}: snapshot appeared while writing; not replacing it")
        try:
            create_archive(self.staging.partial, self.archive)
        finally:
            self.staging.abort()

    def abort(self) -> None:
        self.staging.abort()


class TarGzReader(DirReader):
    def __init__(self, archive: Path, work_dir: Path | None) -> None:
        if work_dir is not None:
            work_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="drill-snapshot-", dir=work_dir))
        try:
            super().__init__(extract_archive(archive, self.tmp / "objects"))
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class TarGzStore(RootedStore):
    kind = "targz"

    def __init__(self, root: Path, work_dir: Path | None = None) -> None:
        super().__init__(root)
        self.work_dir = work_dir

    def ids(self) -> list[str]:
        names = [n[: -len(SUFFIX)] for n in self._names() if n.endswith(SUFFIX)]
        return [n for n in names if is_snapshot_id(n)]

    def _archive(self, snapshot: str) -> Path:
        return self._existing(snapshot, f"{check_id(snapshot)}{SUFFIX}")

    def writer(self, snapshot: str, lock: LockSpec | None) -> SnapshotWriter:
        self._no_lock(lock)
        self.check()
        return TarGzWriter(self.root, check_id(snapshot))

    def reader(self, snapshot: str) -> SnapshotReader:
        return TarGzReader(self._archive(snapshot), self.work_dir)

    def read_manifest(self, snapshot: str) -> bytes:
        path = self._archive(snapshot)
        try:
            with tarfile.open(path, mode="r|gz") as tar:
                member = tar.next()
                if member is None or member.name != MANIFEST or not member.isreg():
                    raise VerificationFailed(f"{path}: first member is not {MANIFEST}")
                if member.size > MAX_MANIFEST_BYTES:
                    raise VerificationFailed(f"{path}: {MANIFEST} is implausibly large ({member.size} bytes)")
                handle = tar.extractfile(member)
                assert handle is not None
                data = handle.read(member.size)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ArchiveError(f"{path}: cannot read the manifest: {exc}") from None
        if len(data) != member.size:
            raise ArchiveError(f"{path}: {MANIFEST} is truncated")
        return data

    def delete(self, snapshot: str) -> None:
        self._archive(snapshot).unlink()
