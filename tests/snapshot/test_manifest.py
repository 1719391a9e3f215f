"""Tree scan, deterministic manifests, nonce construction, path rules and the redacted view."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from harness.errors import ConfigError, VerificationFailed
from harness.snapshot.catalog import open_snapshot
from harness.snapshot.create import create_snapshot
from harness.snapshot.crypto import chunk_ad, chunk_nonce, manifest_nonce
from harness.snapshot.keys import FileKeys, init_keyfile
from harness.snapshot.manifest import check_entries, path_problem, scan_tree
from harness.snapshot.store_local import DirStore
from tests.snapshot.conftest import CLOCK, build_tree


def test_scan_records_links_and_special_files_without_following(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the snapshot")
    (tree / "escape").symlink_to(outside)
    entries = {e.path: e for e in scan_tree(tree)}
    assert entries["latest"].type == "symlink" and entries["latest"].target == "docs/guide.md"
    assert entries["escape"].type == "symlink" and entries["escape"].target == str(outside)
    assert not any(p.startswith("escape/") for p in entries)  # not followed
    assert entries["data/pipe"].type == "fifo"
    assert entries["config/zz-hardlink.yaml"].type == "hardlink"
    assert entries["config/zz-hardlink.yaml"].target == "config/app.yaml"
    assert entries["bin/run.sh"].mode == 0o755 and entries["config/secret-mode.txt"].mode == 0o600
    paths = [p.encode() for p in entries]
    assert paths == sorted(paths)


def test_same_tree_and_clock_give_a_byte_identical_manifest(tmp_path: Path) -> None:
    """Two trees built identically, two stores, two different keys, one clock: same manifest bytes."""
    docs = []
    for n in (1, 2):
        tree = build_tree(tmp_path / f"tree{n}")
        init_keyfile(tmp_path / f"k{n}")
        keys = FileKeys(tmp_path / f"k{n}")
        store = DirStore(tmp_path / f"store{n}")
        result = create_snapshot(tree, store, keys, tag="det", created_at=CLOCK, chunk_size=4096)
        assert open_snapshot(store, keys, result.id).doc == json.loads(result.manifest)
        docs.append((result.id, result.manifest))
    assert docs[0] == docs[1]
    # …and a different clock or a touched file changes it.
    tree = tmp_path / "tree1"
    later = create_snapshot(
        tree,
        DirStore(tmp_path / "s3"),
        FileKeys(tmp_path / "k1"),
        tag="det",
        created_at=CLOCK + timedelta(seconds=1),
        chunk_size=4096,
    )
    assert later.id != docs[0][0] and later.manifest != docs[0][1]
    os.utime(tree / "README.txt", ns=(1, 1))
    touched = create_snapshot(
        tree,
        DirStore(tmp_path / "s4"),
        FileKeys(tmp_path / "k1"),
        tag="det",
        created_at=CLOCK,
        chunk_size=4096,
    )
    assert touched.manifest != docs[0][1]


def test_manifest_contents_and_unique_nonces(tree: Path, store: DirStore, keys: FileKeys) -> None:
    result = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK, chunk_size=4096)
    doc = json.loads(result.manifest)
    files = {e["path"]: e for e in doc["entries"] if e["type"] == "file"}
    records = files["data/records.csv"]
    assert records["size"] == (tree / "data" / "records.csv").stat().st_size
    assert len(records["chunks"]) == -(-records["size"] // 4096) > 1
    assert all(c["length"] == c["size"] + 16 for c in records["chunks"])
    assert files["data/empty.dat"]["chunks"] == []
    seqs = [c["seq"] for e in files.values() for c in e["chunks"]]
    assert sorted(seqs) == list(range(len(seqs)))  # one nonce per chunk, never reused
    assert len({chunk_nonce(s) for s in seqs} | {manifest_nonce()}) == len(seqs) + 1
    assert chunk_nonce(5) == bytes.fromhex("000000010000000000000005")
    assert chunk_ad("a/b", 2) == b"drill-snapshot/1 chunk\x00a/b\x00" + (2).to_bytes(8, "big")


def test_redacted_view_has_no_key_material_or_paths(tree: Path, store: DirStore, keys: FileKeys) -> None:
    result = create_snapshot(tree, store, keys, tag="t", created_at=CLOCK)
    opened = open_snapshot(store, keys, result.id)
    text = json.dumps(opened.redacted())
    wrapped = opened.header["key"]["wrapped_key"]
    assert wrapped not in text and "wrap_nonce" not in text and "records.csv" not in text
    assert opened.key.material.hex() not in text and "redacted" in repr(opened.key)
    assert json.loads(text)["key"] == {"provider": "keyfile", "key_id": keys.key_id()}


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../../etc/passwd", "traversal"),
        ("/etc/passwd", "absolute"),
        ("a/./b", "'.'"),
        ("a//b", "empty"),
        ("", "empty"),
        ("ok/name", None),
    ],
)
def test_path_rules(path: str, problem: str | None) -> None:
    found = path_problem(path)
    assert (found is None) if problem is None else (problem in str(found))


def test_entries_below_a_link_are_refused() -> None:
    entries = [
        {"path": "d", "type": "symlink", "target": "/etc"},
        {"path": "d/passwd", "type": "file"},
    ]
    with pytest.raises(VerificationFailed, match="escape through the link 'd'"):
        check_entries(entries, "m")


def test_bad_create_inputs_are_named(tmp_path: Path, store: DirStore, keys: FileKeys) -> None:
    with pytest.raises(ConfigError, match="missing: cannot read"):
        create_snapshot(tmp_path / "missing", store, keys, tag="t")
    (tmp_path / "d").mkdir()
    with pytest.raises(ConfigError, match="tag"):
        create_snapshot(tmp_path / "d", store, keys, tag="../bad")
    with pytest.raises(ConfigError, match="chunk_size"):
        create_snapshot(tmp_path / "d", store, keys, tag="t", chunk_size=10)
    assert store.ids() == [] and store.incomplete() == []


def test_compiled_entry_precheck_agrees_with_the_schema(tree: Path, store: DirStore, keys: FileKeys) -> None:
    from harness.snapshot.manifest import _entries_fast_ok, check_document

    doc = json.loads(create_snapshot(tree, store, keys, tag="t", created_at=CLOCK, chunk_size=4096).manifest)
    assert _entries_fast_ok(doc["entries"])  # the fast path is really taken for valid manifests
    for bad in (
        {"sha256": "xyz"},
        {"extra": 1},
        {"mode": 99999},
        {"type": "socket"},
        {"chunks": [{"seq": 0}]},
    ):
        entry = next(e for e in doc["entries"] if e["type"] == "file")
        broken = {**doc, "entries": [{**entry, **bad}, *doc["entries"][1:]]}
        assert not _entries_fast_ok(broken["entries"])
        with pytest.raises(VerificationFailed, match="manifest does not match its schema at entries/0"):
            check_document(broken, "m")
