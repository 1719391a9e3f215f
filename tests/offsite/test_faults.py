"""Faults on the way to S3: throttling, 5xx, connection resets, interruption, access denied.

Faults are injected into real HTTP traffic to the moto server, by a botocore ``before-send``
hook (for S3's error responses) or a TCP proxy (for resets mid-body). After every failure the
bucket must hold no incomplete multipart upload.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.archive import ArchiveInfo
from harness.aws.endpoint import AwsEndpoint
from harness.errors import ProviderError, VerificationFailed
from harness.offsite.client import s3_client
from harness.offsite.fetch import fetch_archive
from harness.offsite.keys import S3Uri
from harness.offsite.posture import check_posture
from harness.offsite.settings import PosturePolicy
from tests.conftest import REPO
from tests.offsite.conftest import SMALL_PARTS, assert_nothing_left, no_multipart_uploads, posture, upload
from tests.offsite.faults import fault_proxy, first_n, inject_status, is_upload_part


@pytest.mark.parametrize(
    ("operation", "size", "status", "code"),
    [
        ("UploadPart", "big", 503, "SlowDown"),
        ("PutObject", "small", 503, "SlowDown"),
        ("CreateMultipartUpload", "big", 500, "InternalError"),
        ("CompleteMultipartUpload", "big", 500, "InternalError"),
    ],
)
def test_a_few_server_errors_are_retried(
    s3: Any,
    bucket: str,
    archive: ArchiveInfo,
    big_archive: ArchiveInfo,
    operation: str,
    size: str,
    status: int,
    code: str,
) -> None:
    injected = inject_status(s3, operation, status, code, times=2)
    result = upload(s3, bucket, big_archive if size == "big" else archive)
    assert injected == [2]
    assert result.version_id
    assert no_multipart_uploads(s3, bucket)


def test_persistent_slowdown_fails_cleanly_without_orphans(
    s3: Any, bucket: str, big_archive: ArchiveInfo
) -> None:
    injected = inject_status(s3, "UploadPart", 503, "SlowDown", times=-1)
    with pytest.raises(ProviderError) as info:
        upload(s3, bucket, big_archive)
    message = str(info.value)
    assert message.startswith("upload to s3://")
    assert "SlowDown (HTTP 503) after 3 attempt(s)" in message
    assert injected[0] >= 3
    assert_nothing_left(s3, bucket)


def test_failure_after_all_parts_still_aborts(s3: Any, bucket: str, big_archive: ArchiveInfo) -> None:
    inject_status(s3, "CompleteMultipartUpload", 500, "InternalError", times=-1)
    with pytest.raises(ProviderError, match=r"InternalError \(HTTP 500\)"):
        upload(s3, bucket, big_archive)
    assert_nothing_left(s3, bucket)


def test_an_abort_that_fails_inside_the_transfer_is_swept_up(
    s3: Any, bucket: str, big_archive: ArchiveInfo
) -> None:
    """s3transfer's own abort fails too (every attempt 503): the sweep of the key still aborts it."""
    inject_status(s3, "UploadPart", 503, "SlowDown", times=-1)
    aborts = inject_status(s3, "AbortMultipartUpload", 503, "SlowDown", times=SMALL_PARTS.max_attempts)
    with pytest.raises(ProviderError, match=r"; 1 incomplete multipart upload\(s\) aborted$"):
        upload(s3, bucket, big_archive)
    assert aborts == [SMALL_PARTS.max_attempts]  # the transfer's abort used up its attempts
    assert no_multipart_uploads(s3, bucket)


def test_interrupted_upload_is_aborted(s3: Any, bucket: str, big_archive: ArchiveInfo) -> None:
    """Ctrl-C (KeyboardInterrupt) in the middle of the parts: the upload is aborted, not left behind."""
    calls = [0]

    def interrupt(**_: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt

    s3.meta.events.register("before-send.s3.UploadPart", interrupt)
    with pytest.raises(KeyboardInterrupt):
        upload(s3, bucket, big_archive, transfer=replace(SMALL_PARTS, max_concurrency=1))
    assert calls[0] == 2
    assert_nothing_left(s3, bucket)


def test_sigterm_during_drill_upload_aborts_the_multipart_upload(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo
) -> None:
    """CI cancels a job with SIGTERM: `drill upload` turns it into an interrupt and aborts its upload."""
    assert moto.endpoint_url is not None
    with fault_proxy(moto.endpoint_url, first_n(-1, is_upload_part, "stall")) as proxy:
        cmd = [sys.executable, "-m", "harness.cli", "upload", str(big_archive.path), f"s3://{bucket}/p"]
        cmd += ["--environment", "drill", "--part-size-mb", "5", "--multipart-threshold-mb", "5"]
        cmd += ["--aws-provider", "localstack", "--endpoint-url", proxy.url]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while no_multipart_uploads(s3, bucket) and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # the parts are held by the proxy; the multipart upload exists
            assert not no_multipart_uploads(s3, bucket), child.poll()
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == 2, err
    assert "interrupted" in err
    assert_nothing_left(s3, bucket)


def _via_proxy(moto: AwsEndpoint, url: str) -> Any:
    endpoint = AwsEndpoint(moto.provider, moto.region, url, moto._credentials)
    return s3_client(endpoint, SMALL_PARTS)


def test_connection_reset_mid_part_is_retried(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo, tmp_path: Path
) -> None:
    assert moto.endpoint_url is not None
    with fault_proxy(moto.endpoint_url, first_n(1, is_upload_part, "reset")) as proxy:
        result = upload(_via_proxy(moto, proxy.url), bucket, big_archive)
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
        upload(_via_proxy(moto, proxy.url), bucket, big_archive)
    assert proxy.injected >= 3
    assert_nothing_left(s3, bucket)


def test_slowdown_from_the_wire_is_retried(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo
) -> None:
    assert moto.endpoint_url is not None
    with fault_proxy(moto.endpoint_url, first_n(2, is_upload_part, "503")) as proxy:
        upload(_via_proxy(moto, proxy.url), bucket, big_archive)
    assert proxy.injected == 2


READ_ONLY = {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "s3:HeadBucket"], "Resource": "*"}


def iam_user(moto: AwsEndpoint, name: str, *statements: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """A real IAM user whose policy is ``statements``; an S3 client with its keys, and the keys."""
    iam = moto.client("iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="drill-test",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    return s3_client(AwsEndpoint("embedded", moto.region, moto.endpoint_url, creds), SMALL_PARTS), key


def enforce_iam(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto evaluate IAM policies on every request (until the monkeypatch is undone)."""
    import moto.settings as moto_settings

    monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)


@pytest.fixture
def limited_user(moto: AwsEndpoint, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An IAM user with read-only S3 rights, and moto's IAM enforcement switched on for the test."""
    user = iam_user(moto, f"reader-{bucket}", READ_ONLY)
    enforce_iam(monkeypatch)
    yield user
    monkeypatch.undo()


def test_access_denied_upload_is_a_clear_error(
    limited_user: Any, s3: Any, bucket: str, big_archive: ArchiveInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, key = limited_user
    with pytest.raises(ProviderError, match="access denied") as info:
        upload(reader, bucket, big_archive)  # the posture reads pass; the write is refused
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


def test_a_posture_property_the_role_cannot_read_fails_with_the_reason(
    moto: AwsEndpoint, s3: Any, bucket: str, archive: ArchiveInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    deny = {"Effect": "Deny", "Action": "s3:GetLifecycleConfiguration", "Resource": "*"}
    reader, _ = iam_user(moto, f"no-lifecycle-{bucket}", READ_ONLY, deny)
    enforce_iam(monkeypatch)
    report = posture(reader, bucket)
    failed = {c.name: c.detail for c in report.failures}
    assert set(failed) == {"lifecycle_noncurrent_expiration", "lifecycle_abort_incomplete_multipart"}
    assert all(d.startswith("could not read the configuration: access denied") for d in failed.values())
    assert report.to_dict()["checks"][3]["actual"] is None
    monkeypatch.undo()
    with pytest.raises(VerificationFailed, match="upload blocked"):
        upload(s3, bucket, archive, report=report)


def test_download_cut_mid_body_resumes_and_verifies(
    moto: AwsEndpoint, s3: Any, bucket: str, big_archive: ArchiveInfo, tmp_path: Path
) -> None:
    result = upload(s3, bucket, big_archive)
    assert moto.endpoint_url is not None
    is_object_get = first_n(1, lambda method, target: method == "GET" and result.uri.key in target, "cut")
    with fault_proxy(moto.endpoint_url, is_object_get) as proxy:
        fetched = fetch_archive(_via_proxy(moto, proxy.url), result.uri, tmp_path, region="us-east-1")
    assert proxy.injected == 1
    assert fetched.resumed == 1
    assert fetched.sha256 == big_archive.sha256
    assert "store ChecksumSHA256 (composite)" in fetched.checks
