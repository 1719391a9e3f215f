"""`drill pg-restore-check s3://…`: a real pg_dump -Fc file in the real moto server, over HTTP,
reached through ``--aws-provider aws`` (the standard credential chain, AWS_ENDPOINT_URL)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.aws.embedded import embedded_moto
from harness.aws.endpoint import AwsEndpoint
from harness.cli import main
from harness.offsite.client import s3_client
from tests.offsite.conftest import corrupt_stored_object, new_bucket
from tests.offsite.test_cli import assert_no_secrets, via_chain  # noqa: F401 - via_chain is a fixture
from tests.pgdrill.helpers import TOKEN


@pytest.fixture(scope="module")
def moto() -> Iterator[AwsEndpoint]:
    """The moto server ``via_chain`` points the credential chain at."""
    with embedded_moto() as running:
        yield running


@pytest.fixture(scope="module")
def bucket(moto: AwsEndpoint, dumps: dict[str, Path]) -> str:
    """A bucket provisioned the production way, holding the reference dump twice: as uploaded
    (nightly/app.dump) and with a byte flipped at rest (nightly/rotten.dump)."""
    s3 = s3_client(moto)
    name = new_bucket(s3, moto.client("kms"))
    for key in ("nightly/app.dump", "nightly/rotten.dump"):
        s3.put_object(Bucket=name, Key=key, Body=dumps["full"].read_bytes(), ChecksumAlgorithm="SHA256")
    corrupt_stored_object(name, "nightly/rotten.dump")
    return name


def _check(uri: str, tmp_path: Path, aws: list[str], *more: str) -> int:
    argv = ["pg-restore-check", uri, "--evidence-dir", str(tmp_path / "reports")]
    return main([*argv, "--work-dir", str(tmp_path / "work"), *aws, *more])


def _evidence(tmp_path: Path) -> tuple[dict[str, Any], str]:
    [path] = (tmp_path / "reports").glob("*.json")
    text = path.read_text()
    return json.loads(text), text


def test_a_dump_in_s3_is_fetched_verified_and_checked(
    moto: AwsEndpoint,
    bucket: str,
    dumps: dict[str, Path],
    via_chain: list[str],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EXPECTED_CANARY", TOKEN)
    uri = f"s3://{bucket}/nightly/app.dump"
    canary = ["--canary-sql", "SELECT token FROM drill_canary", "--canary-env", "EXPECTED_CANARY"]
    code = _check(uri, tmp_path, via_chain, "--min-rows", "users=60", *canary)
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "verified against store ChecksumSHA256" in err
    assert f"passed   inspect: fetched from {uri} (checksum-verified); app.dump: custom-format" in out
    doc, text = _evidence(tmp_path)
    assert doc["verdict"] == "verified"
    sha = hashlib.sha256(dumps["full"].read_bytes()).hexdigest()
    version = s3_client(moto).head_object(Bucket=bucket, Key="nightly/app.dump")["VersionId"]
    assert version and f"version {version}" in err
    assert doc["source"]["archive"] == {
        "uri": uri,
        "sha256": f"sha256:{sha}",
        "size_bytes": len(dumps["full"].read_bytes()),
        "version_id": version,
    }
    section = doc["extra"]["pg_restore_check"]
    assert section["fetch"]["archive_uri"] == uri and section["fetch"]["version_id"] == version
    assert section["fetch"]["sha256"] == f"sha256:{sha}"
    assert section["fetch"]["verified_against"] == ["store ChecksumSHA256"]
    assert section["min_rows"]["public.users"]["passed"] is True
    assert section["canary"]["returned_byte_exact"] is True
    assert_no_secrets(out + err + text)
    assert TOKEN not in out + err + text
    assert not any((tmp_path / "work").rglob("*.dump"))  # a verified run leaves no download behind


@pytest.mark.parametrize(
    ("key", "code", "outcome"),
    [
        (
            "missing.dump",
            2,
            "ERROR (exit 2): step 'inspect' could not run: {uri}: no such object in the bucket",
        ),
        ("rotten.dump", 1, "FAILED (exit 1): step 'inspect' failed: {uri}: checksum mismatch"),
    ],
    ids=["missing-object", "bytes-changed-in-the-store"],
)
def test_a_dump_that_cannot_be_fetched_intact_is_never_restored(
    bucket: str,
    via_chain: list[str],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key: str,
    code: int,
    outcome: str,
) -> None:
    uri = f"s3://{bucket}/nightly/{key}"
    assert _check(uri, tmp_path, via_chain) == code
    assert outcome.format(uri=uri) in capsys.readouterr().out
    doc, _ = _evidence(tmp_path)
    assert [s["status"] for s in doc["steps"]][:2] == ["error" if code == 2 else "failed", "skipped"]
    assert not any(p.is_file() for p in (tmp_path / "work").rglob("*"))  # no (half-)download left


def _newest_and_older(moto: AwsEndpoint, bucket: str, dump: Path, prefix: str) -> tuple[str, str]:
    s3 = s3_client(moto)
    now = datetime.now(UTC)
    keys = (
        f"{prefix}app-{now - timedelta(days=1):%Y%m%dT%H%M%SZ}.dump",
        f"{prefix}app-{now:%Y%m%dT%H%M%SZ}.dump",
    )
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=dump.read_bytes(), ChecksumAlgorithm="SHA256")
    s3.put_object(Bucket=bucket, Key=f"{prefix}LATEST", Body=b"a pointer file, not a dump")
    return keys[1], keys[0]


def test_the_newest_dump_under_a_prefix_is_checked_with_freshness(
    moto: AwsEndpoint,
    bucket: str,
    dumps: dict[str, Path],
    via_chain: list[str],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    newest, older = _newest_and_older(moto, bucket, dumps["full"], "daily/")
    code = _check(f"s3://{bucket}/daily/", tmp_path, via_chain, "--max-backup-age-seconds", "90000")
    out, err = capsys.readouterr()
    assert code == 0, out + err
    doc, _ = _evidence(tmp_path)
    locate = doc["extra"]["pg_restore_check"]["locate"]
    assert (
        locate["uri"] == f"s3://{bucket}/{newest}"
        and locate["candidates"] == 2
        and locate["ignored_keys"] == 1
    )
    assert locate["older"] == [older]
    version = s3_client(moto).head_object(Bucket=bucket, Key=newest)["VersionId"]
    assert doc["source"]["archive"]["version_id"] == version == locate["version_id"]
    fresh = doc["measurements"]["freshness"]
    assert fresh["met"] is True and fresh["backup"] == f"s3://{bucket}/{newest}"
    assert fresh["backup_time_means"] == "'Archive created at' in the dump's header"


def test_a_stale_newest_dump_fails(
    moto: AwsEndpoint,
    bucket: str,
    dumps: dict[str, Path],
    via_chain: list[str],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    newest, _ = _newest_and_older(moto, bucket, dumps["full"], "stale/")
    time.sleep(1.1)
    code = _check(f"s3://{bucket}/stale/", tmp_path, via_chain, "--max-backup-age-seconds", "0.5")
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"failed   freshness: stale: the newest backup s3://{bucket}/{newest} is" in out


def test_a_corrupt_newest_dump_fails_and_never_falls_back_to_an_older_one(
    moto: AwsEndpoint,
    bucket: str,
    dumps: dict[str, Path],
    via_chain: list[str],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    newest, older = _newest_and_older(moto, bucket, dumps["full"], "rot/")
    corrupt_stored_object(bucket, newest)
    code = _check(f"s3://{bucket}/rot/", tmp_path, via_chain)
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"step 'inspect' failed: s3://{bucket}/{newest}: checksum mismatch" in out
    assert older not in out


def test_an_empty_dump_prefix_fails(
    bucket: str,
    via_chain: list[str],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = _check(f"s3://{bucket}/nothing-here/", tmp_path, via_chain)
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"s3://{bucket}/nothing-here/: no dump under the prefix" in out
