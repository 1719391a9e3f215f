"""An independent decoder written only from docs/snapshot-format.md (json, hashlib, base64 and
AES-GCM; no harness.snapshot code) must decode a snapshot the harness wrote."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.snapshot.create import create_snapshot
from harness.snapshot.keys import FileKeys
from harness.snapshot.store_local import DirStore
from tests.snapshot.conftest import CLOCK


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
    assert plain == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
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
