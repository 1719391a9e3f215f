"""``drill posture/upload/fetch`` and ``drill validate|dry-run s3://…`` against the real moto server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.archive import ArchiveInfo
from harness.aws.endpoint import AwsEndpoint
from harness.cli import main
from harness.postgres.database import Database
from harness.secrets import scan_text
from tests.conftest import REFERENCE_CONTRACT
from tests.offsite.conftest import corrupt_stored_object

# Recognisable fake credentials for the standard boto3 chain; none may ever be printed.
FAKE_KEY_ID = "AKIAZZZZDRILLTEST001"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYDRILLTESTKEY"
FAKE_SESSION_TOKEN = "FwoGZXIvYXdzEJr//////////wEaDDRILLSESSIONTOKENexampleexampleexample0123456789"


@pytest.fixture
def via_chain(moto: AwsEndpoint, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``--aws-provider aws`` (the standard credential chain) aimed at the moto server."""
    assert moto.endpoint_url is not None
    for var in ("LOCALSTACK_ENDPOINT", "LOCALSTACK_HOST", "DRILL_AWS_PROVIDER", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint_url)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
    return ["--aws-provider", "aws"]


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def assert_no_secrets(text: str) -> None:
    for secret in (
        FAKE_KEY_ID,
        FAKE_SECRET,
        FAKE_SESSION_TOKEN,
        "X-Amz-Signature",
        "X-Amz-Credential",
        "Signature=",
    ):
        assert secret not in text
    assert scan_text(text) is None
    assert "[redacted" not in text  # nothing even needed scrubbing


def test_posture_command(moto: AwsEndpoint, bucket: str, s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--aws-provider", "localstack", "--endpoint-url", str(moto.endpoint_url)]
    assert main(["posture", f"s3://{bucket}/portable-export", *url]) == 0
    out = capsys.readouterr().out
    assert "all 6 required posture properties pass" in out
    assert "NOT REQUIRED  object_lock" in out
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert main(["posture", f"s3://{bucket}/portable-export", *url, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    assert [c["property"] for c in report["checks"] if c["status"] == "fail"] == ["versioning"]
    assert main(["posture", f"s3://{bucket}/portable-export", *url, "--warn-only"]) == 0
    assert "(warn-only)" in capsys.readouterr().out
    assert main(["posture", "s3://no-such-drill-bucket", *url]) == 2
    assert "the bucket does not exist" in capsys.readouterr().err


def test_posture_provision_on_an_embedded_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["posture", "s3://drill-demo-bucket/p", "--aws-provider", "embedded", "--provision"]) == 0
    assert "all 6 required posture properties pass" in capsys.readouterr().out
    assert main(["fetch", "s3://drill-demo-bucket/p/x.tar.gz", "--aws-provider", "embedded"]) == 2
    assert "lives only as long as this command" in capsys.readouterr().err


def test_upload_result_json_carries_no_credentials(
    via_chain: list[str], bucket: str, archive: ArchiveInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["upload", str(archive.path), f"s3://{bucket}/backups", "--environment", "production", *via_chain]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)
    for field in (
        "archive_uri",
        "version_id",
        "generated_at",
        "schema_version",
        "export_format_version",
    ):
        assert result[field], field
    assert result["archive_uri"].startswith(f"s3://{bucket}/backups/production/")
    assert result["entity_counts"]["users"] > 0
    assert result["checksums"]["archive_sha256"] == f"sha256:{archive.sha256}"
    assert result["checksums"]["verified_by_store"] is True
    assert result["server_side_encryption"]["algorithm"] == "aws:kms"
    assert_no_secrets(captured.out + captured.err)
    for value in _strings(result):
        assert scan_text(value) is None, value


def test_validate_and_dry_run_fetch_s3_uris(
    via_chain: list[str],
    bucket: str,
    archive: ArchiveInfo,
    scratch_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(
            ["upload", str(archive.path), f"s3://{bucket}/backups", "--environment", "production", *via_chain]
        )
        == 0
    )
    uri = json.loads(capsys.readouterr().out)["archive_uri"]
    work = tmp_path / "exports"
    assert main(["validate", uri, "--contract", str(REFERENCE_CONTRACT), "--work-dir", str(work)]) == 0
    captured = capsys.readouterr()
    assert "valid" in captured.out
    assert "verified against store ChecksumSHA256" in captured.err
    [fetched] = list(work.glob("fetched-*/*.tar.gz"))
    assert fetched.read_bytes() == archive.path.read_bytes()

    monkeypatch.setenv("DRILL_TEST_SCRATCH_DSN", scratch_db.conninfo)
    dry = ["dry-run", uri, "--contract", str(REFERENCE_CONTRACT), "--work-dir", str(work)]
    dry += ["--target-dsn-env", "DRILL_TEST_SCRATCH_DSN", "--target-environment", "scratch"]
    assert main(dry) == 0
    captured = capsys.readouterr()
    assert "zero writes proven: True" in captured.out
    assert_no_secrets(captured.out + captured.err)

    missing = uri.replace(".tar.gz", "0.tar.gz")
    assert main(["validate", missing, "--contract", str(REFERENCE_CONTRACT), "--work-dir", str(work)]) == 2
    assert "no such object" in capsys.readouterr().err


def test_fetch_command_detects_altered_bytes(
    via_chain: list[str],
    bucket: str,
    archive: ArchiveInfo,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(["upload", str(archive.path), f"s3://{bucket}/backups", "--environment", "staging", *via_chain])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    pinned = f"{result['archive_uri']}?versionId={result['version_id']}"
    assert main(["fetch", pinned, "-o", str(tmp_path / "ok"), "--json", *via_chain]) == 0
    assert json.loads(capsys.readouterr().out)["version_id"] == result["version_id"]
    corrupt_stored_object(bucket, result["archive_uri"].split("/", 3)[3])
    assert main(["fetch", result["archive_uri"], "-o", str(tmp_path / "bad"), *via_chain]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert not any((tmp_path / "bad").iterdir())


def test_upload_refuses_private_data_in_the_key(
    via_chain: list[str], bucket: str, archive: ArchiveInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "upload",
            str(archive.path),
            f"s3://{bucket}/backups",
            "--environment",
            "jane.doe@example.com",
            *via_chain,
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "environment is not allowed in an archive key" in err
    assert "jane.doe" not in err
