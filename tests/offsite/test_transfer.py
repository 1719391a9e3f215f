"""Upload and fetch against the real moto server: checksums, encryption, versions, bad inputs."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import pytest

from harness.archive import ArchiveInfo
from harness.errors import ArchiveError, ConfigError
from harness.evidence import scrub_secrets
from harness.offsite.fetch import fetch_archive
from harness.offsite.keys import S3Uri
from harness.offsite.posture import check_posture
from harness.offsite.settings import PosturePolicy
from harness.offsite.upload import read_manifest
from tests.offsite.conftest import corrupt_stored_object, new_bucket, no_multipart_uploads, posture, upload


def test_single_part_round_trip(s3: Any, bucket: str, archive: ArchiveInfo, tmp_path: Path) -> None:
    result = upload(s3, bucket, archive)
    manifest = read_manifest(archive.path)
    stamp = manifest["generated_at"].replace("-", "").replace(":", "")
    assert (
        result.uri.key
        == f"portable-export/drill/{manifest['generated_at'][:10]}/portable-export-{stamp}.tar.gz"
    )
    assert result.version_id
    assert result.parts == 1
    assert result.checksum_type == "FULL_OBJECT"
    assert result.store_checksum == f"sha256:{archive.sha256}"
    assert result.sse == "aws:kms"
    assert result.kms_key
    data = result.to_dict()
    assert data["entity_counts"] == manifest["entity_counts"]
    assert data["schema_version"] == manifest["schema_version"]
    assert data["export_format_version"] == manifest["export_format_version"]
    assert data["checksums"]["entity_files"] == manifest["checksums"]
    head = s3.head_object(Bucket=bucket, Key=result.uri.key, ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["Metadata"]["sha256"] == archive.sha256

    fetched = fetch_archive(
        s3, S3Uri(bucket, result.uri.key, result.version_id), tmp_path, expected_sha256=archive.sha256
    )
    assert fetched.path.read_bytes() == archive.path.read_bytes()
    assert fetched.version_id == result.version_id
    assert fetched.checks == [
        "store ChecksumSHA256",
        "sha256 recorded at upload",
        "sha256 of the local archive",
    ]


def test_multipart_round_trip_with_composite_checksum(
    s3: Any, bucket: str, big_archive: ArchiveInfo, tmp_path: Path
) -> None:
    result = upload(s3, bucket, big_archive)
    assert result.parts == 3
    assert result.part_size == 5 * 1024 * 1024
    assert result.checksum_type == "COMPOSITE"
    assert result.store_checksum.startswith("sha256-composite:")
    assert result.store_checksum.endswith("-3")
    assert no_multipart_uploads(s3, bucket)
    fetched = fetch_archive(s3, result.uri, tmp_path)
    assert fetched.checksum_type == "COMPOSITE"
    assert fetched.sha256 == big_archive.sha256
    assert "store ChecksumSHA256 (composite)" in fetched.checks


def test_sse_s3_bucket_gets_aes256_objects(s3: Any, kms: Any, archive: ArchiveInfo) -> None:
    bucket = new_bucket(s3, kms, encryption="AES256")
    assert upload(s3, bucket, archive).sse == "AES256"


def test_new_version_pins_the_fetch(s3: Any, bucket: str, archive: ArchiveInfo, tmp_path: Path) -> None:
    first = upload(s3, bucket, archive)
    s3.put_object(Bucket=bucket, Key=first.uri.key, Body=b"not an archive", ChecksumAlgorithm="SHA256")
    fetched = fetch_archive(s3, S3Uri(bucket, first.uri.key, first.version_id), tmp_path / "a")
    assert fetched.sha256 == archive.sha256
    latest = fetch_archive(s3, first.uri, tmp_path / "b")  # unpinned: the newer object
    assert latest.path.read_bytes() == b"not an archive"


@pytest.mark.parametrize("which", ["single-part", "multipart"])
def test_bytes_altered_after_upload_fail_the_fetch(
    s3: Any, bucket: str, archive: ArchiveInfo, big_archive: ArchiveInfo, tmp_path: Path, which: str
) -> None:
    source = archive if which == "single-part" else big_archive
    result = upload(s3, bucket, source)
    corrupt_stored_object(bucket, result.uri.key)
    with pytest.raises(ArchiveError, match="checksum mismatch"):
        fetch_archive(s3, result.uri, tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial is left


def test_expected_sha256_mismatch(s3: Any, bucket: str, archive: ArchiveInfo, tmp_path: Path) -> None:
    result = upload(s3, bucket, archive)
    with pytest.raises(ArchiveError, match="differs from the archive that was uploaded"):
        fetch_archive(s3, result.uri, tmp_path, expected_sha256=hashlib.sha256(b"other").hexdigest())


def test_object_without_any_checksum_is_not_trusted(s3: Any, bucket: str, tmp_path: Path) -> None:
    s3.put_object(Bucket=bucket, Key="x/plain.tar.gz", Body=b"bytes")
    with pytest.raises(ArchiveError, match="no checksum to verify against"):
        fetch_archive(s3, S3Uri(bucket, "x/plain.tar.gz"), tmp_path)


def test_missing_object_bucket_and_version(
    s3: Any, bucket: str, archive: ArchiveInfo, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="no such object"):
        fetch_archive(s3, S3Uri(bucket, "portable-export/missing.tar.gz"), tmp_path)
    with pytest.raises(ConfigError, match="the bucket does not exist"):
        fetch_archive(s3, S3Uri("no-such-drill-bucket", "a.tar.gz"), tmp_path, region="us-east-1")
    result = upload(s3, bucket, archive)
    with pytest.raises(ConfigError, match="no such object"):
        fetch_archive(s3, S3Uri(bucket, result.uri.key, "00000000-0000-0000-0000-000000000000"), tmp_path)
    with pytest.raises(ConfigError, match="name one archive object"):
        fetch_archive(s3, S3Uri(bucket, "portable-export/"), tmp_path)


def test_wrong_region_is_refused(s3: Any, kms: Any, archive: ArchiveInfo, tmp_path: Path) -> None:
    bucket = new_bucket(s3, kms, region="eu-west-1")
    result = upload(s3, bucket, archive, report=posture(s3, bucket, "eu-west-1"))
    with pytest.raises(
        ConfigError, match="is in region eu-west-1, but the drill is configured for us-east-1"
    ):
        fetch_archive(s3, result.uri, tmp_path, region="us-east-1")
    assert fetch_archive(s3, result.uri, tmp_path, region="eu-west-1").sha256 == archive.sha256


def test_posture_of_another_bucket_or_prefix_does_not_count(s3: Any, kms: Any, archive: ArchiveInfo) -> None:
    checked = new_bucket(s3, kms)
    other = new_bucket(s3, kms)
    with pytest.raises(ConfigError, match="posture check was for"):
        upload(s3, other, archive, report=posture(s3, checked))
    # Lifecycle rules are judged for the prefix, so a report for another prefix does not count either.
    elsewhere = check_posture(s3, checked, "other-prefix", PosturePolicy(), "us-east-1")
    assert elsewhere.passed
    with pytest.raises(ConfigError, match=f"posture check was for s3://{checked}/other-prefix"):
        upload(s3, checked, archive, report=elsewhere)


def test_results_hold_nothing_the_evidence_scrubber_would_hide(
    s3: Any, bucket: str, big_archive: ArchiveInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evidence is scrubbed of token-like strings: every value of the results must survive it,
    also with the default relative work directory (``.tmp/exports/<scenario>-<run id>/fetched``)."""
    monkeypatch.chdir(tmp_path)
    result = upload(s3, bucket, big_archive)
    fetched = fetch_archive(
        s3, result.uri, Path(".tmp/exports") / f"portable-export-{secrets.token_hex(8)}" / "fetched"
    )
    for data in (result.to_dict(), fetched.to_dict()):
        assert scrub_secrets(data) == data
    assert Path(fetched.to_dict()["local_path"]).is_absolute()
