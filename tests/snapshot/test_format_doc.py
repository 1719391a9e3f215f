"""An independent decoder written only from docs/snapshot-format.md (json, hashlib, base64 and
AES-GCM; no harness.snapshot code) must decode a snapshot the harness wrote."""

from __future__ import annotations

import base64
import hashlib
import json
import tarfile
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.snapshot.create import create_snapshot
from harness.snapshot.keys import FileKeys
from harness.snapshot.store_local import DirStore
from harness.snapshot.store_targz import TarGzStore
from tests.snapshot.conftest import CLOCK


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def decode(snapshot_dir: Path, keyfile: Path) -> dict[str, bytes]:
    outer = json.loads((snapshot_dir / "manifest.json").read_bytes())
    assert outer["format"] == "drill-snapshot/1"
    header_text = outer["header"]
    header = json.loads(header_text)
    assert header["format"] == outer["format"]
    snap_id, wrapped = header["id"], header["key"]
    kek = base64.b64decode(json.loads(keyfile.read_text())["key"])
    data_key = AESGCM(kek).decrypt(
        base64.b64decode(wrapped["wrap_nonce"]),
        base64.b64decode(wrapped["wrapped_key"]),
        b"drill-snapshot/1 wrap\x00" + snap_id.encode(),
    )
    aead = AESGCM(data_key)
    plain = aead.decrypt(
        b"\x00\x00\x00\x02" + bytes(8), base64.b64decode(outer["body"]), header_text.encode()
    )
    assert hashlib.sha256(plain).hexdigest() == header["manifest_sha256"]
    doc = json.loads(plain)
    assert plain == _canonical(doc)
    assert [doc[k] for k in ("id", "tag", "created_at")] == [header[k] for k in ("id", "tag", "created_at")]
    # §1: the id is the time plus 8 hex digits over the tag and the entry records without content fields.
    records = [{k: v for k, v in e.items() if k not in ("sha256", "chunks")} for e in doc["entries"]]
    digest = hashlib.sha256(doc["tag"].encode() + b"\x00" + b"".join(_canonical(r) + b"\n" for r in records))
    stamp = doc["created_at"].replace("-", "").replace(":", "")
    assert snap_id == f"{stamp}-{digest.hexdigest()[:8]}"
    for pack in doc["packs"]:  # §7 step 5
        assert (snapshot_dir / pack["name"]).stat().st_size == pack["size"]
    files = {}
    for entry in doc["entries"]:
        if entry["type"] != "file":
            continue
        content = b""
        for index, chunk in enumerate(entry["chunks"]):
            with open(snapshot_dir / doc["packs"][chunk["pack"]]["name"], "rb") as pack:
                pack.seek(chunk["offset"])
                ct = pack.read(chunk["length"])
            nonce = b"\x00\x00\x00\x01" + chunk["seq"].to_bytes(8, "big")
            ad = b"drill-snapshot/1 chunk\x00" + entry["path"].encode() + b"\x00" + index.to_bytes(8, "big")
            data = aead.decrypt(nonce, ct, ad)
            assert hashlib.sha256(data).hexdigest() == chunk["sha256"]
            content += data
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        files[entry["path"]] = content
    return files


def test_documented_format_decodes(tree: Path, store: DirStore, keys: FileKeys, keyfile: Path) -> None:
    snap = create_snapshot(tree, store, keys, tag="doc", created_at=CLOCK, chunk_size=4096).id
    files = decode(store.root / snap, keyfile)
    expected = {
        str(p.relative_to(tree)): p.read_bytes()
        for p in tree.rglob("*")
        if p.is_file() and not p.is_symlink() and p.name != "zz-hardlink.yaml"
    }
    assert files == expected and len(files["data/records.csv"]) > 3 * 4096


def test_documented_targz_layout_decodes(tree: Path, tmp_path: Path, keys: FileKeys, keyfile: Path) -> None:
    """§10: gzip around a pax tar of the flat objects, manifest first, mode 0644, fixed mtime."""
    store = TarGzStore(tmp_path / "tgz", tmp_path / "work")
    snap = create_snapshot(tree, store, keys, tag="doc", created_at=CLOCK, chunk_size=4096, pack_size=8192).id
    out = tmp_path / "unpacked"
    out.mkdir()
    with tarfile.open(tmp_path / "tgz" / f"{snap}.tar.gz", "r:gz") as tar:
        members = tar.getmembers()
        assert tar.pax_headers is not None and all(m.isreg() for m in members)
        names = [m.name for m in members]
        assert names[0] == "manifest.json" and names[1:] == sorted(names[1:]) and len(names) > 2
        assert {(m.mode, m.mtime) for m in members} == {(0o644, 946_684_800)}
        tar.extractall(out, filter="data")
    assert len(decode(out, keyfile)["data/records.csv"]) > 3 * 4096
