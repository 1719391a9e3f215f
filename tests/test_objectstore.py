"""The S3 object store against a real moto server: checksummed, write-once and retained puts, heads,
ranged gets, prefixes, keys at every depth and versions, and the errors a missing or locked object gives."""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.aws.embedded import embedded_moto
from harness.errors import AlreadyExists, ConfigError, RefusedError
from harness.objectstore.base import Multipart, ObjectMissing, PutOptions, Retention
from harness.objectstore.s3 import S3ObjectStore
from harness.offsite.checksums import hash_file, split_store_value

_buckets = itertools.count()
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with embedded_moto() as endpoint:
        yield endpoint.client("s3")


def new_store(client: Any, *, lock: bool = False) -> S3ObjectStore:
    bucket = f"objects-{next(_buckets)}"
    client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=lock)
    if not lock:
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return S3ObjectStore(client, bucket)


def test_put_head_get_and_write_once(client: Any) -> None:
    store = new_store(client)
    store.check()
    assert not store.retention_enabled()
    data = b"0123456789" * 1000
    store.put("a/b/one", data, PutOptions(if_absent=True, metadata={"kind": "test"}))
    with pytest.raises(AlreadyExists, match=r"^s3://objects-\d+/a/b/one: already exists$"):
        store.put("a/b/one", b"other", PutOptions(if_absent=True))
    head = store.head("a/b/one", checksum=True)
    assert head is not None and head.size == len(data) and head.version_id
    assert head.sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert head.metadata == {"kind": "test"} and not head.lock.locked()
    assert b"".join(store.get("a/b/one")) == data
    assert b"".join(store.get("a/b/one", head.version_id, start=9990, if_match=head.etag)) == data[9990:]
    assert store.head("a/b/missing") is None
    with pytest.raises(ObjectMissing, match="not found"):
        b"".join(store.get("a/b/missing"))
    with pytest.raises(ConfigError, match="does the bucket exist"):
        S3ObjectStore(client, "no-such-bucket-here").check()


def test_prefixes_versions_and_delete(client: Any) -> None:
    store = new_store(client)
    for key in ("p/x/1", "p/x/2", "p/y/1", "q/z/1"):
        store.put(key, key.encode(), PutOptions())
    store.put("p/x/1", b"again", PutOptions())
    assert store.list_prefixes("p/") == ["x", "y"]
    versions = store.versions("p/x/")
    assert sorted(v.key for v in versions) == ["p/x/1", "p/x/1", "p/x/2"]
    for version in versions:
        store.delete_version(version.key, version.version_id)
    assert store.versions("p/x/") == [] and store.list_prefixes("p/") == ["y"]


def test_list_keys_goes_every_level_deep_and_past_the_first_page(client: Any) -> None:
    store = new_store(client)
    deep = [f"p/{i % 3}/{'x/' * (i % 4)}{i:04d}.json" for i in range(1001)]  # S3 pages hold 1000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: client.put_object(Bucket=store.bucket, Key=key, Body=b""), deep))
    client.put_object(Bucket=store.bucket, Key="p-beside", Body=b"")
    client.put_object(Bucket=store.bucket, Key="q/p/0", Body=b"")
    assert store.list_keys("p/") == sorted(deep)
    assert store.list_keys("p/2/x/x/") == sorted(k for k in deep if k.startswith("p/2/x/x/"))
    assert store.list_keys("none/") == []
    with pytest.raises(ConfigError, match=r"^listing s3://no-such-bucket-here/p/: not found"):
        S3ObjectStore(client, "no-such-bucket-here").list_keys(
            "p/", what="listing s3://no-such-bucket-here/p/"
        )


def test_versions_say_which_is_latest(client: Any) -> None:
    store = new_store(client)
    for body in (b"1", b"2"):
        store.put("v/edited", body, PutOptions())
    store.put("v/deleted", b"1", PutOptions())
    client.delete_object(Bucket=store.bucket, Key="v/deleted")
    seen = {(v.key, v.delete_marker, v.latest) for v in store.versions("v/")}
    assert len(store.versions("v/")) == 4
    assert seen == {
        ("v/edited", False, True),
        ("v/edited", False, False),
        ("v/deleted", False, False),
        ("v/deleted", True, True),
    }


def test_retention_blocks_the_delete(client: Any) -> None:
    store = new_store(client, lock=True)
    assert store.retention_enabled()
    until = datetime.now(UTC) + timedelta(days=1)
    store.put("locked", b"kept", PutOptions(retention=Retention("COMPLIANCE", until)))
    head = store.head("locked")
    assert head is not None and head.lock.locked() and head.lock.mode == "COMPLIANCE"
    assert head.version_id is not None
    with pytest.raises(RefusedError, match="S3 refused the delete"):
        store.delete_version("locked", head.version_id)


def test_put_file_in_parts(client: Any, tmp_path: Path) -> None:
    store = new_store(client)
    plan = Multipart(threshold=5 * MIB, part_size=5 * MIB, concurrency=2)
    assert store.part_size(MIB, plan) is None and store.part_size(11 * MIB, plan) == 5 * MIB
    path = tmp_path / "big"
    path.write_bytes(b"x" * 11 * MIB)
    store.put_file("big", path, PutOptions(encryption="AES256"), plan, what="upload of big")
    head = store.head("big", checksum=True)
    assert head is not None and head.size == 11 * MIB and head.encryption == "AES256"
    assert head.sha256 is not None
    assert split_store_value(head.sha256)[0] == hash_file(path, 5 * MIB).store_b64(composite=True)
    assert not client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
