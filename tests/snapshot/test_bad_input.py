"""Bad input and faults, through the real ``drill snapshot`` command: each is detected, named,
exits non-zero and writes nothing outside the target."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.aws.endpoint import AwsEndpoint
from harness.errors import VerificationFailed
from harness.snapshot.catalog import open_snapshot, read_chunk
from harness.snapshot.crypto import canonical_json, seal_manifest
from harness.snapshot.keys import FileKeys, init_keyfile
from harness.snapshot.store_local import DirReader, DirStore
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


def _verify_and_restore(
    capsys: Capsys, config: Path, snap: str, tmp_path: Path, *extra: object, code: int = 1
) -> tuple[str, str]:
    """Run verify and restore; both must fail with ``code``; nothing may appear outside the target."""
    before = {p for p in listing(tmp_path) if not p.startswith("allowed")}
    status, _, verify_err = run_cli(
        capsys, "snapshot", "verify", snap, "--config", config, "--work-dir", tmp_path / "work", *extra
    )
    assert status == code, verify_err
    target = tmp_path / "allowed" / "target"
    status, _, restore_err = run_cli(
        capsys, "snapshot", "restore", snap, "--config", config, "--target", target, *extra
    )
    assert status == code, restore_err
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


@pytest.mark.parametrize("where", ["end", "middle"])
def test_truncated_chunk(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys, where: str
) -> None:
    """Bytes cut from the last chunk, or from a chunk in the middle (later chunks shift): the pack
    size no longer matches, so verify names it and restore refuses before writing anything."""
    _, opened, directory = _ctx(tmp_path, keyfile, snap)
    pack = directory / "pack-000000"
    data = pack.read_bytes()
    if where == "end":
        _rewrite(pack, data[:-10])
    else:
        chunk = _chunk(opened, "data/records.csv", 1)
        end = chunk["offset"] + chunk["length"]
        _rewrite(pack, data[: end - 10] + data[end:])
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    assert f"pack-000000: truncated ({len(data) - 10} bytes, manifest says {len(data)})" in verify_err
    assert "refused: pack-000000: truncated" in restore_err
    assert listing(tmp_path / "allowed" / "target") == set()  # refused before a byte was written


def test_truncated_chunk_read_is_named(tmp_path: Path, keyfile: Path, snap: str) -> None:
    """The per-chunk length check (a pack cut while a restore reads it) names file and chunk."""
    _, opened, directory = _ctx(tmp_path, keyfile, snap)
    entry = next(e for e in opened.files() if e["path"] == "data/records.csv")
    chunk = entry["chunks"][-1]
    pack = directory / "pack-000000"
    _rewrite(pack, pack.read_bytes()[: chunk["offset"] + chunk["length"] - 1])
    index = len(entry["chunks"]) - 1
    with pytest.raises(VerificationFailed, match=rf"chunk {index} of 'data/records.csv': truncated"):
        read_chunk(DirReader(directory), opened, entry, index)


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


@pytest.mark.parametrize("which", ["wrong", "missing"])
def test_wrong_or_missing_key(tmp_path: Path, snap: str, config: Path, capsys: Capsys, which: str) -> None:
    key = tmp_path / f"{which}.key"
    if which == "wrong":
        init_keyfile(key)
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path, "--key-file", key, code=2)
    for err in (verify_err, restore_err):
        assert str(key) in err
        assert ("wrong key file" if which == "wrong" else "key file not found") in err
    assert not (tmp_path / "allowed").exists()


def test_wrong_key_that_claims_the_right_key_id(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    """A header whose key id was edited to match another key file still does not unwrap."""
    other = tmp_path / "other.key"
    init_keyfile(other)
    manifest = tmp_path / "store" / snap / "manifest.json"
    outer = json.loads(manifest.read_text())
    header = json.loads(outer["header"])
    header["key"]["key_id"] = FileKeys(other).key_id()
    outer["header"] = json.dumps(header)
    _rewrite(manifest, json.dumps(outer).encode())
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path, "--key-file", other)
    for err in (verify_err, restore_err):
        assert "the wrapped data key does not unwrap" in err


def _reseal(tmp_path: Path, keyfile: Path, snap: str, change: Any) -> None:
    """A validly *authenticated* manifest with hostile content (a compromised writer holding the key)."""
    _, opened, directory = _ctx(tmp_path, keyfile, snap)
    doc = opened.doc
    change(doc)
    body = canonical_json(doc)
    header = {**opened.header, "manifest_sha256": hashlib.sha256(body).hexdigest()}
    _rewrite(directory / "manifest.json", seal_manifest(opened.key, header, body))


def _readme(doc: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = next(e for e in doc["entries"] if e["path"] == "README.txt")
    return entry


HOSTILE = {
    "traversal": "manifest entry '../../etc/passwd': path traversal ('..'); refusing",
    "absolute": "manifest entry {victim!r}: absolute path; refusing",
    "hardlink-out": "hard link 'zz-link' must point to an earlier file entry, not {victim!r}",
    "nonce-reuse": "chunk sequence 0 used twice (nonce reuse); refusing",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_manifests_are_refused(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys, case: str
) -> None:
    """Authenticated (resealed with the data key) but hostile content: refused, nothing written."""
    victim_dir = tmp_path / "victim"  # what an absolute path or a link out of the target would hit
    victim_dir.mkdir()
    victim = str(victim_dir / "passwd")

    def change(doc: dict[str, Any]) -> None:
        entries = doc["entries"]
        if case == "traversal":
            entries.insert(0, {**_readme(doc), "path": "../../etc/passwd"})
        elif case == "absolute":
            entries.insert(0, {**_readme(doc), "path": victim})
        elif case == "hardlink-out":
            entries.append({"path": "zz-link", "type": "hardlink", "mode": 0o644, "target": victim})
        else:
            later = next(e for e in entries if e["type"] == "file" and e["chunks"] and e["chunks"][0]["seq"])
            later["chunks"][0]["seq"] = 0

    _reseal(tmp_path, keyfile, snap, change)
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    expected = HOSTILE[case].format(victim=victim)
    assert expected in verify_err and expected in restore_err
    assert listing(tmp_path / "allowed") <= {"target"} and listing(tmp_path / "allowed" / "target") == set()
    assert listing(victim_dir) == set() and not (tmp_path / "etc").exists()


def test_manifest_path_escaping_through_a_link(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()

    def add(doc: dict[str, Any]) -> None:
        doc["entries"] += [
            {"path": "zlink", "type": "symlink", "mode": 0o777, "mtime_ns": 1, "target": str(outside)},
            {**_readme(doc), "path": "zlink/owned.txt"},
        ]

    _reseal(tmp_path, keyfile, snap, add)
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    for err in (verify_err, restore_err):
        assert "'zlink/owned.txt' would escape through the link 'zlink'; refusing" in err
    assert listing(outside) == set() and listing(tmp_path / "allowed" / "target") == set()


@pytest.mark.parametrize("field", ["chunk", "file"])
def test_restore_checks_hashes_as_it_writes(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys, field: str
) -> None:
    """Chunks that authenticate but whose plaintext does not match the manifest hash (a writer that
    held the key recorded a wrong hash): verify and restore both stop; no file is left half-written."""

    def change(doc: dict[str, Any]) -> None:
        entry = next(e for e in doc["entries"] if e["path"] == "data/records.csv")
        (entry["chunks"][1] if field == "chunk" else entry)["sha256"] = "0" * 64

    _reseal(tmp_path, keyfile, snap, change)
    verify_err, restore_err = _verify_and_restore(capsys, config, snap, tmp_path)
    if field == "chunk":
        for err in (verify_err, restore_err):
            assert "chunk 1 of 'data/records.csv': sha256 differs from the manifest" in err
    else:
        assert "'data/records.csv': whole-file sha256 differs from the manifest" in verify_err
        assert "data/records.csv: restored bytes do not match the manifest sha256" in restore_err
    target = tmp_path / "allowed" / "target"
    assert (target / "bin" / "run.sh").exists()  # files before it: restored and verified
    assert not (target / "data" / "records.csv").exists()  # the bad one: never renamed into place


def test_target_outside_the_allowlist(
    tmp_path: Path, snap: str, config: Path, capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRILL_RESTORE_ALLOW", raising=False)
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "allowed").mkdir()
    (tmp_path / "allowed" / "sneaky").symlink_to(elsewhere, target_is_directory=True)
    for target in (
        elsewhere,
        tmp_path / "allowed" / ".." / "elsewhere",
        tmp_path / "allowed" / "sneaky" / "t",
    ):
        for dry in ((), ("--dry-run",)):
            code, _, err = run_cli(
                capsys, "snapshot", "restore", snap, "--config", config, "--target", target, *dry
            )
            assert code == 2 and "outside the restore allowlist" in err and str(tmp_path / "allowed") in err
    assert not elsewhere.exists() and listing(tmp_path / "allowed") == {"sneaky"}
    bare = tmp_path / "no-allow.yaml"
    bare.write_text(config.read_text().replace("restore: {allow: [allowed]}\n", ""))
    code, _, err = run_cli(
        capsys, "snapshot", "restore", snap, "--config", bare, "--target", tmp_path / "allowed" / "t"
    )
    assert code == 2 and "no restore allowlist is configured" in err
    assert listing(tmp_path / "allowed") == {"sneaky"}


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


def test_symlink_deep_in_target_with_no_directory_entries(
    tmp_path: Path, keyfile: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    """A manifest without entries for the parent directories (so the plan never lstat()s them) and
    a symlink two levels down in the target: the descriptor walk (O_NOFOLLOW) still refuses it."""

    def add(doc: dict[str, Any]) -> None:
        readme = _readme(doc)
        fresh = [{**c, "seq": doc["totals"]["chunks"] + i} for i, c in enumerate(readme["chunks"])]
        doc["entries"].append({**readme, "path": "zz/in/x.txt", "chunks": fresh})  # no "zz", "zz/in"

    _reseal(tmp_path, keyfile, snap, add)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "allowed" / "target"
    (target / "zz").mkdir(parents=True)
    (target / "zz" / "in").symlink_to(outside)
    code, _, err = run_cli(capsys, "snapshot", "restore", snap, "--config", config, "--target", target)
    assert code == 2 and f"{target / 'zz' / 'in'}: is a symbolic link" in err
    assert listing(outside) == set() and listing(target) == {"zz", "zz/in"}


def test_prune_policy_that_would_delete_everything(
    tmp_path: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    reports = tmp_path / "reports"
    code, _, err = run_cli(
        capsys, "snapshot", "prune", "--config", config, "--keep-last", 0, "--evidence-dir", reports
    )
    assert code == 2 and "would delete every one of the 1 snapshot(s); refusing" in err
    assert DirStore(tmp_path / "store").ids() == [snap] and not reports.exists()


def test_prune_with_a_missing_key_stops_before_deciding(
    tmp_path: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    reports = tmp_path / "reports"
    gone = tmp_path / "gone.key"
    code, _, err = run_cli(
        capsys, "snapshot", "prune", "--config", config, "--key-file", gone, "--evidence-dir", reports
    )
    assert code == 2 and f"{gone}: key file not found" in err
    assert DirStore(tmp_path / "store").ids() == [snap] and not reports.exists()


def test_prune_keeps_and_names_a_snapshot_that_does_not_authenticate(
    tree: Path, tmp_path: Path, snap: str, config: Path, capsys: Capsys
) -> None:
    code, out, _ = run_cli(
        capsys,
        "snapshot",
        "create",
        tree,
        "--tag",
        "t",
        "--config",
        config,
        "--created-at",
        "2020-01-01T00:00:00Z",
    )
    older = out.split()[1]
    manifest = tmp_path / "store" / older / "manifest.json"
    outer = json.loads(manifest.read_text())
    outer["header"] = outer["header"].replace('"tag":"t"', '"tag":"x"')
    _rewrite(manifest, json.dumps(outer).encode())
    reports = tmp_path / "reports"
    code, out, err = run_cli(
        capsys, "snapshot", "prune", "--config", config, "--keep-last", 1, "--evidence-dir", reports
    )
    assert code == 1 and f"1 snapshot(s) did not authenticate and were kept: {older}" in err
    assert f"keep   {older}" in out and "not trusted, investigate" in out
    assert DirStore(tmp_path / "store").ids() == sorted([older, snap])
    [record] = [json.loads(p.read_text()) for p in reports.glob("snapshot-prune-*.json")]
    assert {d["id"]: d["trusted"] for d in record["decisions"]} == {older: False, snap: True}


def test_delete_of_a_locked_object_is_refused_and_named(
    tree: Path, tmp_path: Path, moto: AwsEndpoint, capsys: Capsys
) -> None:
    """A legal hold on one pack of an otherwise unlocked snapshot: prune decides to delete it, the
    store refuses (naming the object), nothing of it is deleted, the record says so, exit 2."""
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="held-snapshots", ObjectLockEnabledForBucket=True)
    aws = ["--aws-provider", "localstack", "--endpoint-url", moto.endpoint_url, "--region", "us-east-1"]
    where = ["--store", "s3://held-snapshots/p", "--kms-key-id", "alias/held-snapshots", *aws]
    assert run_cli(capsys, "snapshot", "keys", "init", *where)[0] == 0
    ids = []
    for stamp in ("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"):
        code, out, err = run_cli(
            capsys, "snapshot", "create", tree, "--tag", "t", *where, "--created-at", stamp, "--json"
        )
        assert code == 0, err
        ids.append(json.loads(out)["id"])
    held = f"p/{ids[0]}/pack-000000"
    s3.put_object_legal_hold(Bucket="held-snapshots", Key=held, LegalHold={"Status": "ON"})
    objects = sorted(v["Key"] for v in s3.list_object_versions(Bucket="held-snapshots")["Versions"])
    reports = tmp_path / "reports"
    code, out, err = run_cli(capsys, "snapshot", "prune", "--keep-last", 1, *where, "--evidence-dir", reports)
    assert code == 2 and f"refused to delete 1 snapshot(s) (retention-locked): {ids[0]}" in err
    assert f"{held} (legal hold)" in out
    after = sorted(v["Key"] for v in s3.list_object_versions(Bucket="held-snapshots")["Versions"])
    assert after == objects and not s3.list_object_versions(Bucket="held-snapshots").get("DeleteMarkers")
    [record] = [json.loads(p.read_text()) for p in reports.glob("snapshot-prune-*.json")]
    [decision] = [d for d in record["decisions"] if d["id"] == ids[0]]
    assert decision["action"] == "delete" and decision["outcome"].startswith("refused: ")
    # With the hold on its manifest too, list shows it and prune keeps it without trying.
    s3.put_object_legal_hold(
        Bucket="held-snapshots", Key=f"p/{ids[0]}/manifest.json", LegalHold={"Status": "ON"}
    )
    code, out, _ = run_cli(capsys, "snapshot", "list", *where)
    row = next(line for line in out.splitlines() if line.startswith(ids[0]))
    assert code == 0 and row.endswith("legal hold")
    code, out, _ = run_cli(capsys, "snapshot", "prune", "--keep-last", 1, *where, "--evidence-dir", reports)
    assert code == 0 and "retention-locked (legal hold; never deleted)" in out and "deleted 0 of 2" in out


@pytest.mark.parametrize("suffix", ["\n", "\r\n"])
def test_a_name_with_a_final_newline_is_no_snapshot_id_object_or_tag(suffix: str, tmp_path: Path) -> None:
    """``^...$`` under ``re.match`` took a final newline; names from a listing are untrusted."""
    from harness.errors import ConfigError
    from harness.snapshot.store_base import check_id, check_object

    assert check_id("20261123T091500Z-1a2b3c4d") == "20261123T091500Z-1a2b3c4d"
    with pytest.raises(ConfigError):
        check_id("20261123T091500Z-1a2b3c4d" + suffix)
    assert check_object("pack-000001") == "pack-000001"
    with pytest.raises(VerificationFailed):
        check_object("manifest.json" + suffix)
    store = DirStore(tmp_path / "store")
    (store.root / ("20261123T091500Z-1a2b3c4d" + suffix)).mkdir(parents=True)
    (store.root / ("20261123T091500Z-1a2b3c4d" + suffix) / "manifest.json").write_text("{}")
    assert store.ids() == []
    os.mkdir(os.fsencode(store.root) + b"/20261123T091500Z-1a2b3c4\xff")  # not UTF-8: a surrogate in str
    (store.root / "20261123T091500Z-1a2b3c4d").mkdir()
    (store.root / "20261123T091500Z-1a2b3c4d" / "manifest.json").write_text("{}")
    assert store.ids() == ["20261123T091500Z-1a2b3c4d"]
