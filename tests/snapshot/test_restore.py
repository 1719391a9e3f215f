"""Restore: modes, links, idempotence, dry run, partial changes, refusals; and the tar.gz store."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from harness.errors import ArchiveError, ConfigError, RefusedError
from harness.snapshot.catalog import open_snapshot
from harness.snapshot.create import create_snapshot
from harness.snapshot.keys import FileKeys
from harness.snapshot.lane import compare_trees
from harness.snapshot.restore import RestoreResult, restore_snapshot
from harness.snapshot.store_base import LockSpec, SnapshotStore
from harness.snapshot.store_local import DirStore
from harness.snapshot.store_targz import TarGzStore
from harness.snapshot.verify import verify_snapshot
from tests.snapshot.conftest import CLOCK, listing


def _restore(store: SnapshotStore, keys: FileKeys, snap: str, target: Path, **kw: object) -> RestoreResult:
    opened = open_snapshot(store, keys, snap)
    with store.reader(snap) as reader:
        return restore_snapshot(opened, reader, target, [target.parent], **kw)  # type: ignore[arg-type]


def test_restore_is_faithful_and_idempotent(
    tree: Path, tmp_path: Path, store: DirStore, keys: FileKeys
) -> None:
    snap = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK, chunk_size=4096).id
    target = tmp_path / "allowed" / "out"
    first = _restore(store, keys, snap, target)
    assert first.changed and first.counts()["skip"] == 1  # the FIFO: recorded, never created
    assert first.bytes_written == sum(
        p.stat().st_size
        for p in tree.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != "zz-hardlink.yaml"
    )
    comparison = compare_trees(tree, target)
    assert comparison["passed"], comparison["problems"]
    assert comparison["special_files_not_restored"] == 1
    assert stat.S_IMODE((target / "bin" / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((target / "config" / "secret-mode.txt").stat().st_mode) == 0o600
    assert os.readlink(target / "latest") == "docs/guide.md"
    assert (target / "config" / "zz-hardlink.yaml").stat().st_ino == (
        target / "config" / "app.yaml"
    ).stat().st_ino
    again = _restore(store, keys, snap, target)
    assert not again.changed and again.bytes_written == 0
    assert again.message().startswith(f"target already matches snapshot {snap}: nothing changed")


def test_dry_run_writes_nothing_and_repairs_only_what_differs(
    tree: Path, tmp_path: Path, store: DirStore, keys: FileKeys
) -> None:
    snap = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK, chunk_size=4096).id
    target = tmp_path / "allowed" / "out"
    planned = _restore(store, keys, snap, target, dry_run=True)
    assert planned.changed and planned.dry_run and not target.exists()
    _restore(store, keys, snap, target)
    (target / "data" / "records.csv").write_text("damaged")
    (target / "bin" / "run.sh").chmod(0o644)
    (target / "extra.txt").write_text("not in the snapshot: left alone")
    dry = _restore(store, keys, snap, target, dry_run=True)
    assert {(a.path, a.do) for a in dry.actions if a.do != "unchanged"} == {
        ("data/records.csv", "update"),
        ("bin/run.sh", "metadata"),
        ("data/pipe", "skip"),
    }
    assert (target / "data" / "records.csv").read_text() == "damaged"
    fixed = _restore(store, keys, snap, target)
    assert fixed.bytes_written == (tree / "data" / "records.csv").stat().st_size
    assert (target / "data" / "records.csv").read_bytes() == (tree / "data" / "records.csv").read_bytes()
    assert stat.S_IMODE((target / "bin" / "run.sh").stat().st_mode) == 0o755
    assert (target / "extra.txt").exists() and not _restore(store, keys, snap, target).changed


def test_conflicting_target_entries_are_refused_before_writing(
    tree: Path, tmp_path: Path, store: DirStore, keys: FileKeys
) -> None:
    snap = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK).id
    target = tmp_path / "allowed" / "out"
    (target / "docs").mkdir(parents=True)
    (target / "docs" / "guide.md").mkdir()  # a directory where the snapshot has a file
    with pytest.raises(RefusedError, match=r"guide\.md: exists and is not a regular file"):
        _restore(store, keys, snap, target)
    assert listing(target) == {"docs", "docs/guide.md"}
    (target / "docs" / "guide.md").rmdir()
    (target / "docs" / "guide.md").symlink_to("/etc/hostname")  # a link where the snapshot has a file
    with pytest.raises(RefusedError, match=r"guide\.md: exists and is a symbolic link"):
        _restore(store, keys, snap, target)


def test_targz_store_roundtrip_and_corruption(tree: Path, tmp_path: Path, keys: FileKeys) -> None:
    store = TarGzStore(tmp_path / "tgz", tmp_path / "work")
    snap = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK, chunk_size=4096).id
    assert store.ids() == [snap] and [p.name for p in (tmp_path / "tgz").iterdir()] == [f"{snap}.tar.gz"]
    result = verify_snapshot(store, keys, snap, sample=3, seed=7, work_dir=tmp_path / "work")
    assert result.chunks_checked == 3 and result.mode == "sample"
    again = verify_snapshot(store, keys, snap, sample=3, seed=7, work_dir=tmp_path / "work")
    assert again.smoke == result.smoke  # the same seed checks the same chunks
    target = tmp_path / "allowed" / "out"
    assert _restore(store, keys, snap, target).changed and compare_trees(tree, target)["passed"]
    assert listing(tmp_path / "work") == set()  # extraction cleaned up
    archive = tmp_path / "tgz" / f"{snap}.tar.gz"
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(ArchiveError, match=r"truncated|corrupt|CRC"):
        verify_snapshot(store, keys, snap, work_dir=tmp_path / "work")
    assert listing(tmp_path / "work") == set()


def _contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", ["local", "targz"])
def test_local_stores_are_write_once(tree: Path, tmp_path: Path, keys: FileKeys, kind: str) -> None:
    root = tmp_path / kind
    store: SnapshotStore = DirStore(root) if kind == "local" else TarGzStore(root, tmp_path / "work")
    snap = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK).id
    before = _contents(root)
    with pytest.raises(RefusedError, match="snapshot already exists; snapshots are write-once"):
        create_snapshot(tree, store, keys, tag="t", created_at=CLOCK)  # same tree + clock = same id
    with pytest.raises(ConfigError, match=f"the {kind} store cannot apply Object Lock"):
        create_snapshot(tree, store, keys, tag="t", lock=LockSpec("COMPLIANCE", 1))
    assert _contents(root) == before and store.ids() == [snap] and store.incomplete() == []
    if kind == "local":
        writer = store.writer("20000101T000000Z-00000000", None)
        writer.put("pack-000000", b"x")
        with pytest.raises(
            RefusedError, match="pack-000000: already exists; snapshot objects are write-once"
        ):
            writer.put("pack-000000", b"y")
        writer.abort()
        assert stat.S_IMODE((root / snap / "manifest.json").stat().st_mode) == 0o444
