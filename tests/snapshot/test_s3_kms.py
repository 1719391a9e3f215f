"""S3 store with KMS data keys and Object Lock, on a real moto server over HTTP."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from harness.aws.endpoint import AwsEndpoint
from harness.errors import ConfigError, RefusedError, VerificationFailed
from harness.files import MANIFEST
from harness.snapshot.catalog import list_snapshots, open_snapshot
from harness.snapshot.create import create_snapshot
from harness.snapshot.keys import KmsKeys, ensure_kms_key
from harness.snapshot.restore import restore_snapshot
from harness.snapshot.retention import RetentionPolicy, prune
from harness.snapshot.store_base import LockSpec
from harness.snapshot.store_s3 import S3Store, S3Writer
from harness.snapshot.verify import verify_snapshot
from tests.snapshot.conftest import CLOCK

_n = itertools.count()


@pytest.fixture
def s3store(moto: AwsEndpoint) -> S3Store:
    bucket = f"snap-test-{next(_n)}"
    moto.client("s3").create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return S3Store(moto, bucket, "drills/")


@pytest.fixture
def kms(moto: AwsEndpoint) -> KmsKeys:
    alias = f"alias/snap-test-{next(_n)}"
    ensure_kms_key(moto, alias)
    return KmsKeys(moto, alias)


def test_kms_object_lock_roundtrip(tree: Path, tmp_path: Path, s3store: S3Store, kms: KmsKeys) -> None:
    lock = LockSpec("COMPLIANCE", 1)
    result = create_snapshot(tree, s3store, kms, tag="weekly", created_at=CLOCK, chunk_size=4096, lock=lock)
    [row] = list_snapshots(s3store)
    assert (
        row["id"] == result.id
        and row["tag"] == "weekly"
        and row["files"] == result.header["summary"]["files"]
    )
    assert row["lock"]["locked"] and row["lock"]["mode"] == "COMPLIANCE"
    assert row["lock"]["state"].startswith("COMPLIANCE until ")
    assert result.header["key"]["provider"] == "kms" and result.header["key"]["key_id"].startswith(
        "arn:aws:kms"
    )
    verified = verify_snapshot(s3store, kms, result.id, work_dir=tmp_path / "w")
    assert verified.chunks_checked == verified.chunks_total > 5
    opened = open_snapshot(s3store, kms, result.id)
    with s3store.reader(result.id) as reader:
        done = restore_snapshot(opened, reader, tmp_path / "out" / "t", [tmp_path / "out"])
    assert (
        done.changed
        and (tmp_path / "out" / "t" / "data" / "records.csv").read_bytes()
        == (tree / "data" / "records.csv").read_bytes()
    )


@pytest.mark.parametrize("mode", ["COMPLIANCE", "GOVERNANCE"])
def test_locked_snapshot_cannot_be_deleted_or_overwritten(
    tree: Path, s3store: S3Store, kms: KmsKeys, mode: str
) -> None:
    result = create_snapshot(tree, s3store, kms, tag="t", created_at=CLOCK, lock=LockSpec(mode, 2))
    with pytest.raises(RefusedError, match=f"retention-locked: .*{mode} until"):
        s3store.delete(result.id)
    with pytest.raises(RefusedError, match="retention-locked"):
        s3store.delete_object(result.id, MANIFEST)
    with pytest.raises(RefusedError, match="already exists; snapshot objects are write-once"):
        S3Writer(s3store, result.id, None).put(MANIFEST, b"{}")
    with pytest.raises(RefusedError, match="already exists"):
        s3store.writer(result.id, None)
    # S3 itself refuses too: the harness never sends BypassGovernanceRetention.
    key = s3store.key(result.id, MANIFEST)
    version = s3store.s3.head_object(Bucket=s3store.bucket, Key=key)["VersionId"]
    with pytest.raises(ClientError, match="AccessDenied"):
        s3store.s3.delete_object(Bucket=s3store.bucket, Key=key, VersionId=version)
    assert open_snapshot(s3store, kms, result.id).id == result.id  # intact and authentic


def test_prune_deletes_only_unlocked_and_never_the_newest(tree: Path, s3store: S3Store, kms: KmsKeys) -> None:
    ids = {}
    for days, locked in ((30, False), (20, True), (10, False), (0, False)):
        lock = LockSpec("GOVERNANCE", 1) if locked else None
        ids[days] = create_snapshot(
            tree, s3store, kms, tag="t", created_at=CLOCK - timedelta(days=days), lock=lock
        ).id
    dry = prune(s3store, kms, RetentionPolicy(keep_last=1), dry_run=True)
    assert {d.id for d in dry if d.action == "delete"} == {ids[30], ids[10]}
    assert len(s3store.ids()) == 4
    locked = next(d for d in dry if d.id == ids[20])
    assert locked.action == "keep" and any("retention-locked (GOVERNANCE" in r for r in locked.reasons)
    done = prune(s3store, kms, RetentionPolicy(keep_last=1), dry_run=False)
    assert sorted(d.outcome for d in done if d.action == "delete") == ["deleted", "deleted"]
    assert s3store.ids() == sorted([ids[20], ids[0]])
    versions = s3store.s3.list_object_versions(Bucket=s3store.bucket, Prefix=f"drills/{ids[30]}/")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")  # really gone, not hidden


def test_tampered_wrapped_key_is_refused_by_kms(
    tree: Path, s3store: S3Store, kms: KmsKeys, moto: AwsEndpoint
) -> None:
    result = create_snapshot(tree, s3store, kms, tag="t", created_at=CLOCK)
    raw = json.loads(s3store.get(result.id, MANIFEST))
    header = json.loads(raw["header"])
    blob = bytearray(base64.b64decode(header["key"]["wrapped_key"]))
    blob[-1] ^= 1
    header["key"]["wrapped_key"] = base64.b64encode(bytes(blob)).decode()
    raw["header"] = json.dumps(header)
    unlocked = S3Store(moto, s3store.bucket, "tampered/")
    S3Writer(unlocked, result.id, None).put(MANIFEST, json.dumps(raw).encode())
    with pytest.raises(
        VerificationFailed, match=r"KMS Decrypt with key alias/snap-test-\d+ refused .*changed"
    ):
        open_snapshot(unlocked, kms, result.id)


def test_wrong_or_missing_kms_key(tree: Path, s3store: S3Store, kms: KmsKeys, moto: AwsEndpoint) -> None:
    """Unwrapping uses the configured key: a data key wrapped under any other KMS key is refused by
    KMS itself, so a snapshot forged under someone else's key never authenticates."""
    result = create_snapshot(tree, s3store, kms, tag="t", created_at=CLOCK)
    other = f"alias/snap-other-{next(_n)}"
    ensure_kms_key(moto, other)
    arn = result.header["key"]["key_id"]
    with pytest.raises(ConfigError, match=rf"wrapped under {arn}\): KMS Decrypt with key {other} refused"):
        open_snapshot(s3store, KmsKeys(moto, other), result.id)
    with pytest.raises(ConfigError, match="key alias/never-created not found \\(missing key"):
        open_snapshot(s3store, KmsKeys(moto, "alias/never-created"), result.id)
    with pytest.raises(ConfigError, match="not found \\(missing key"):
        create_snapshot(tree, s3store, KmsKeys(moto, "alias/never-created"), tag="t")
    assert s3store.ids() == [result.id] and s3store.incomplete() == []


def test_object_lock_needs_a_lock_enabled_bucket(tree: Path, moto: AwsEndpoint, kms: KmsKeys) -> None:
    moto.client("s3").create_bucket(Bucket="snap-plain-bucket")
    store = S3Store(moto, "snap-plain-bucket")
    with pytest.raises(Exception, match="does not have Object Lock enabled"):
        create_snapshot(tree, store, kms, tag="t", lock=LockSpec("COMPLIANCE", 1))
    assert store.ids() == [] and store.incomplete() == []
