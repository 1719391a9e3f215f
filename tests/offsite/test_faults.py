"""Faults on the way to S3: throttling, 5xx, connection resets, interruption, access denied.

Faults are injected into real HTTP traffic to the moto server, by a botocore ``before-send``
hook (for S3's error responses) or a TCP proxy (for resets mid-body). After every failure the
bucket must hold no incomplete multipart upload.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.archive import ArchiveInfo
from harness.errors import ProviderError
from harness.offsite.fetch import fetch_archive
from harness.offsite.keys import S3Uri
from harness.offsite.posture import check_posture
from harness.offsite.session import s3_client
from harness.offsite.settings import PosturePolicy
from harness.offsite.upload import UploadResult, upload_archive
from harness.providers.aws import AwsEndpoint
from tests.offsite.conftest import SMALL_PARTS, no_multipart_uploads
from tests.offsite.faults import fault_proxy, first_n, inject_status, is_upload_part


def _upload(s3: Any, bucket: str, archive: ArchiveInfo, transfer: Any = SMALL_PARTS) -> UploadResult:
    report = check_posture(s3, bucket, "portable-export", PosturePolicy(), "us-east-1")
    return upload_archive(
        s3,
        archive.path,
        bucket=bucket,
        prefix="portable-export",
        environment="drill",
        name="portable-export",
        posture=report,
        transfer=transfer,
    )


def _objects(s3: Any, bucket: str) -> int:
    return int(s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0))


@pytest.mark.parametrize(("operation", "size"), [("UploadPart", "big"), ("PutObject", "small")])
def test_a_few_slowdowns_are_retried(
    s3: Any, bucket: str, archive: ArchiveInfo, big_archive: ArchiveInfo, operation: str, size: str
) -> None:
    injected = inject_status(s3, operation, 503, "SlowDown", times=2)
    result = _upload(s3, bucket, big_archive if size == "big" else archive)
    assert injected == [2]
    assert result.version_id
    assert no_multipart_uploads(s3, bucket)


def test_persistent_slowdown_fails_cleanly_without_orphans(
    s3: Any, bucket: str, big_archive: ArchiveInfo
) -> None:
    injected = inject_status(s3, "UploadPart", 503, "SlowDown", times=-1)
    with pytest.raises(ProviderError) as info:
        _upload(s3, bucket, big_archive)
    message = str(info.value)
    assert message.startswith("upload to s3://")
    assert "SlowDown (HTTP 503) after 3 attempt(s)" in message
    assert injected[0] >= 3
    assert no_multipart_uploads(s3, bucket)
    assert _objects(s3, bucket) == 0


def test_failure_after_all_parts_still_aborts(s3: Any, bucket: str, big_archive: ArchiveInfo) -> None:
    inject_status(s3, "CompleteMultipartUpload", 500, "InternalError", times=-1)
    with pytest.raises(ProviderError, match=r"InternalError \(HTTP 500\)"):
        _upload(s3, bucket, big_archive)
    assert no_multipart_uploads(s3, bucket)
    assert _objects(s3, bucket) == 0


def test_interrupted_upload_is_aborted(s3: Any, bucket: str, big_archive: ArchiveInfo) -> None:
    """Ctrl-C (KeyboardInterrupt) in the middle of the parts: the upload is aborted, not left behind."""
    calls = [0]

    def interrupt(**_: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt

    s3.meta.events.register("before-send.s3.UploadPart", interrupt)
    with pytest.raises(KeyboardInterrupt):
        _upload(s3, bucket, big_archive, replace(SMALL_PARTS, max_concurrency=1))
    assert calls[0] == 2
    assert no_multipart_uploads(s3, bucket)
    assert _objects(s3, bucket) == 0


def _via_proxy(moto: AwsEndpoint, url: str) -> Any:
    endpoint = AwsEndpoint(moto.provider, moto.region, url, moto._credentials)
    return s3_client(endpoint, SMALL_PARTS)


def test_connection_reset_mid_part_is_retried(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo, tmp_path: Path
) -> None:
    assert moto.endpoint_url is not None
    with fault_proxy(moto.endpoint_url, first_n(1, is_upload_part, "reset")) as proxy:
        result = _upload(_via_proxy(moto, proxy.url), bucket, big_archive)
    assert proxy.injected == 1
    assert fetch_archive(s3, result.uri, tmp_path).sha256 == big_archive.sha256
    assert no_multipart_uploads(s3, bucket)


def test_persistent_connection_resets_fail_cleanly(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo
) -> None:
    assert moto.endpoint_url is not None
    with (
        fault_proxy(moto.endpoint_url, first_n(-1, is_upload_part, "reset")) as proxy,
        pytest.raises(ProviderError, match=r"upload to s3://.*connection"),
    ):
        _upload(_via_proxy(moto, proxy.url), bucket, big_archive)
    assert proxy.injected >= 3
    assert no_multipart_uploads(s3, bucket)
    assert _objects(s3, bucket) == 0


def test_slowdown_from_the_wire_is_retried(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo
) -> None:
    assert moto.endpoint_url is not None
    with fault_proxy(moto.endpoint_url, first_n(2, is_upload_part, "503")) as proxy:
        _upload(_via_proxy(moto, proxy.url), bucket, big_archive)
    assert proxy.injected == 2


@pytest.fixture
def limited_user(moto: AwsEndpoint, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An IAM user with read-only S3 rights, and moto's IAM enforcement switched on for the test."""
    import moto.settings as moto_settings

    iam = moto.client("iam")
    name = f"reader-{bucket}"
    iam.create_user(UserName=name)
    statement = {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "s3:HeadBucket"], "Resource": "*"}
    iam.put_user_policy(
        UserName=name,
        PolicyName="read-only",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    yield s3_client(AwsEndpoint("embedded", moto.region, moto.endpoint_url, creds), SMALL_PARTS), key
    monkeypatch.undo()


def test_access_denied_upload_is_a_clear_error(
    limited_user: Any, s3: Any, bucket: str, big_archive: ArchiveInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, key = limited_user
    with pytest.raises(ProviderError, match="access denied") as info:
        _upload(reader, bucket, big_archive)  # the posture reads pass; the write is refused
    assert key["SecretAccessKey"] not in str(info.value)
    monkeypatch.undo()
    assert no_multipart_uploads(s3, bucket)


def test_access_denied_posture_and_fetch(
    moto: AwsEndpoint, limited_user: Any, bucket: str, tmp_path: Path
) -> None:
    _, key = limited_user
    nobody = s3_client(
        AwsEndpoint(
            "embedded",
            moto.region,
            moto.endpoint_url,
            {
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": "wrong-secret-for-this-key-0000000",
            },
        )
    )
    with pytest.raises(ProviderError, match="access denied"):
        check_posture(nobody, bucket, "p", PosturePolicy(), "us-east-1")
    with pytest.raises(ProviderError, match="access denied"):
        fetch_archive(nobody, S3Uri(bucket, "portable-export/x.tar.gz"), tmp_path, region="us-east-1")


def test_download_cut_mid_body_resumes_and_verifies(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo, tmp_path: Path
) -> None:
    result = _upload(s3, bucket, big_archive)
    assert moto.endpoint_url is not None
    is_object_get = first_n(1, lambda method, target: method == "GET" and result.uri.key in target, "cut")
    with fault_proxy(moto.endpoint_url, is_object_get) as proxy:
        fetched = fetch_archive(_via_proxy(moto, proxy.url), result.uri, tmp_path, region="us-east-1")
    assert proxy.injected == 1
    assert fetched.resumed == 1
    assert fetched.sha256 == big_archive.sha256
    assert "store ChecksumSHA256 (composite)" in fetched.checks
