"""Bad input and faults, through the real ``drill snapshot`` command: each is detected, named,
exits non-zero and writes nothing outside the target."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from harness.snapshot.catalog import open_snapshot
from harness.snapshot.crypto import canonical_json, seal_manifest
from harness.snapshot.keys import FileKeys, init_keyfile
from harness.snapshot.store_local import DirStore
from tests.snapshot.conftest import listing, run_cli

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def snap(tree: Path, config: Path, capsys: Capsys) -> str:
    code, out, _ = run_cli(capsys, "snapshot", "create", tree, "--tag", "t", "--config", config, "--json")
    assert code == 0
    return str(json.loads(out)["id"])


def _ctx(tmp_path: Path, keyfile: Path, snap: str) -> tuple[DirStore, Any, Path]:
    store = DirStore(tmp_path / "store")
    return store, open_snapshot(store, FileKeys(keyfile), snap), store.root / snap


def _chunk(opened: Any, path: str, index: int = 0) -> dict[str, Any]:
    entry = next(e for e in opened.doc["entries"] if e["path"] == path)
    chunk: dict[str, Any] = entry["chunks"][index]
    return chunk


def _rewrite(path: Path, data: bytes) -> None:
    path.chmod(0o644)
    path.write_bytes(data)


def _verify_and_restore(capsys: Capsys, config: Path, snap: str, tmp_path: Path) -> tuple[str, str]:
    """Run verify and restore; both must fail with exit 1; nothing may appear outside the target."""
    before = {p for p in listing(tmp_path) if not p.startswith("allowed")}
    code, _, verify_err = run_cli(
        capsys, "snapshot", "verify", snap, "--config", config, "--work-dir", tmp_path / "work"
    )
    assert code == 1, verify_err
    target = tmp_path / "allowed" / "target"
    code, _, restore_err = run_cli(
        capsys, "snapshot", "restore", snap, "--config", config, "--target", target
    )
    assert code == 1, restore_err
    after = {p for p in listing(tmp_path) if not p.startswith("allowed")}
    assert after - before <= {"work"}  # only the (emptied) verify work dir
    assert listing(tmp_path / "work") == set()
    assert not [p for p in listing(target) if ".drill-restore-" in p]  # no half-written temp files
    return verify_err, restore_err


def test_flipped_byte_in_a_chunk(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    _, opened, directory = _ctx(tmp_path, keyfile, snap)
    chunk = _chunk(opened, "data/records.csv", 2)
    pack = directory / "pack-000000"
    data = bytearray(pack.read_bytes())
    data[chunk["offset"] + 7] ^= 0x01
    _rewrite(pack, bytes(data))
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    for err in (verify_err, restore_err):
        assert "chunk 2 of 'data/records.csv'" in err and "failed authentication" in err
    assert not (tmp_path / "allowed" / "target" / "data" / "records.csv").exists()


def test_truncated_chunk(tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys) -> None:
    _, opened, directory = _ctx(tmp_path, keyfile, snap)
    pack = directory / "pack-000000"
    _rewrite(pack, pack.read_bytes()[:-10])
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    assert "pack-000000: truncated" in verify_err
    last = max((e for e in opened.files() if e["chunks"]), key=lambda e: e["chunks"][-1]["offset"])
    assert f"of {last['path']!r}: truncated" in restore_err


def test_chunks_swapped_between_files(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    _, opened, directory = _ctx(tmp_path, keyfile, snap)
    a, b = _chunk(opened, "data/twin-a.txt"), _chunk(opened, "data/twin-b.txt")
    assert a["length"] == b["length"]
    pack = directory / "pack-000000"
    data = bytearray(pack.read_bytes())
    n = a["length"]
    data[a["offset"] : a["offset"] + n], data[b["offset"] : b["offset"] + n] = (
        data[b["offset"] : b["offset"] + n],
        data[a["offset"] : a["offset"] + n],
    )
    _rewrite(pack, bytes(data))
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    assert "'data/twin-a.txt'" in verify_err and "'data/twin-b.txt'" in verify_err
    assert "swapped" in restore_err


@pytest.mark.parametrize("edit", ["header", "body"])
def test_edited_manifest(tmp_path: Path, snap: str, config: Path, capsys: Capsys, edit: str) -> None:
    manifest = tmp_path / "store" / snap / "manifest.json"
    outer = json.loads(manifest.read_text())
    if edit == "header":
        outer["header"] = outer["header"].replace('"tag":"t"', '"tag":"x"')
    else:
        body = bytearray(__import__("base64").b64decode(outer["body"]))
        body[3] ^= 0xFF
        outer["body"] = __import__("base64").b64encode(bytes(body)).decode()
    _rewrite(manifest, json.dumps(outer).encode())
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    assert f"snapshot {snap}: manifest failed authentication" in verify_err
    assert "manifest failed authentication" in restore_err


def test_wrong_or_missing_key(tmp_path: Path, snap: str, config: Path, capsys: Capsys) -> None:
    other = tmp_path / "other.key"
    init_keyfile(other)
    code, _, err = run_cli(capsys, "snapshot", "verify", snap, "--config", config, "--key-file", other)
    assert code == 2 and "wrong key file" in err and str(other) in err
    code, _, err = run_cli(
        capsys,
        "snapshot",
        "restore",
        snap,
        "--config",
        config,
        "--key-file",
        tmp_path / "gone.key",
        "--target",
        tmp_path / "allowed" / "t",
    )
    assert code == 2 and "gone.key: key file not found" in err
    assert not (tmp_path / "allowed").exists()


def _reseal(tmp_path: Path, keyfile: Path, snap: str, change: Any) -> None:
    """A validly *authenticated* manifest with hostile content (a compromised writer holding the key)."""
    _, opened, directory = _ctx(tmp_path, keyfile, snap)
    doc = opened.doc
    change(doc)
    body = canonical_json(doc)
    header = {**opened.header, "manifest_sha256": hashlib.sha256(body).hexdigest()}
    _rewrite(directory / "manifest.json", seal_manifest(opened.key, header, body))


@pytest.mark.parametrize("hostile", ["../../etc/passwd", "/etc/passwd"])
def test_hostile_manifest_paths(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys, hostile: str
) -> None:
    def add(doc: dict[str, Any]) -> None:
        template = next(e for e in doc["entries"] if e["path"] == "README.txt")
        doc["entries"].insert(0, {**template, "path": hostile})

    _reseal(tmp_path, keyfile, snap, add)
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    for err in (verify_err, restore_err):
        assert f"manifest entry {hostile!r}" in err and "refusing" in err
    assert listing(tmp_path / "allowed") <= {"target"} and listing(tmp_path / "allowed" / "target") == set()
    assert not (tmp_path / "etc").exists()


def test_manifest_path_escaping_through_a_link(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    def add(doc: dict[str, Any]) -> None:
        template = next(e for e in doc["entries"] if e["path"] == "README.txt")
        doc["entries"] += [
            {"path": "zlink", "type": "symlink", "mode": 0o777, "mtime_ns": 1, "target": "/tmp"},
            {**template, "path": "zlink/owned.txt"},
        ]

    _reseal(tmp_path, keyfile, snap, add)
    _, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    assert "'zlink/owned.txt' would escape through the link 'zlink'" in restore_err
    assert not Path("/tmp/owned.txt").exists()


def test_target_outside_the_allowlist(tmp_path: Path, snap: str, config: Path, capsys: Capsys) -> None:
    for target in (tmp_path / "elsewhere", tmp_path / "allowed" / ".." / "elsewhere"):
        code, _, err = run_cli(capsys, "snapshot", "restore", snap, "--config", config, "--target", target)
        assert code == 2 and "outside the restore allowlist" in err and str(tmp_path / "allowed") in err
    assert not (tmp_path / "elsewhere").exists()


def test_symlink_in_target_pointing_outside(tmp_path: Path, snap: str, config: Path, capsys: Capsys) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "allowed" / "target"
    target.mkdir(parents=True)
    (target / "data").symlink_to(outside)
    code, _, err = run_cli(capsys, "snapshot", "restore", snap, "--config", config, "--target", target)
    assert code == 2 and f"{target / 'data'}: is a symbolic link" in err and str(outside) in err
    assert listing(outside) == set() and listing(target) == {"data"}  # refused before writing anything
    code, _, err = run_cli(
        capsys, "snapshot", "restore", snap, "--config", config, "--target", target, "--dry-run"
    )
    assert code == 2 and "is a symbolic link" in err


def test_prune_policy_that_would_delete_everything(
    tmp_path: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    reports = tmp_path / "reports"
    code, _, err = run_cli(
        capsys, "snapshot", "prune", "--config", config, "--keep-last", 0, "--evidence-dir", reports
    )
    assert code == 2 and "would delete every one of the 1 snapshot(s); refusing" in err
    assert DirStore(tmp_path / "store").ids() == [snap] and not reports.exists()
