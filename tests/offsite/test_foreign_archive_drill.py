"""Archive mode on another application's archive: a key-value store's nightly export (its own
manifest shape: epoch-millisecond ``created``, bare-hex ``sha256``, ``counts``; members written as
``./name``, as ``tar -C dir .`` does), described only by its version-2 contract, drilled by
``drill run`` into a target built from the contract: local file and newest-under-a-prefix."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from harness.archive import create_archive
from harness.aws.endpoint import AwsEndpoint
from tests.foreign import kvstore
from tests.offsite.conftest import PREFIX
from tests.offsite.test_archive_drill import ARCHIVE_STEPS, drill, steps


def foreign_archive(tmp_path: Path, created: datetime, name: str = "kv") -> Path:
    """The key-value store's export as its own tooling archives it (``./`` members)."""
    export_dir = kvstore.write(tmp_path / f"{name}-export", created_ms=int(created.timestamp() * 1000))
    return Path(shutil.make_archive(str(tmp_path / name), "gztar", export_dir))


def foreign_scenario(tmp_path: Path, uri: str, *, offsite: bool = False) -> Path:
    data: dict[str, Any] = {
        "scenario_version": 1,
        "name": "kv-archive",
        "lane": "portable-export",
        "contract": str(kvstore.CONTRACT),
        "source": {"archive": {"uri": uri}},
        "target": {"postgres": {"provider": "embedded"}, "environment": "scratch", "schema_sql": "contract"},
        "objectives": {"rto_seconds": 3600, "rpo_seconds": 90000, "max_backup_age_seconds": 90000},
        "smoke": [
            {"name": "customers came back", "sql": "SELECT count(*) FROM kv_customers", "expect": {"min": 1}},
            {
                "name": "every order has its customer",
                "sql": "SELECT count(*) FROM kv_orders o LEFT JOIN kv_customers c ON c.id = o.customer_id "
                "WHERE c.id IS NULL",
                "expect": {"equals": 0},
            },
        ],
    }
    if offsite:
        data["options"] = {
            "offsite": {
                "aws": {"provider": "localstack"},
                "bucket": uri.removeprefix("s3://").split("/", 1)[0],
                "posture": {"mode": "enforce", "object_lock": None},
            }
        }
    path = tmp_path / "scenarios" / "kv-archive.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_foreign_local_archive_verifies_through_its_contract(tmp_path: Path) -> None:
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    archive = foreign_archive(tmp_path, created)
    code, doc, out = drill(foreign_scenario(tmp_path, str(archive)), tmp_path, None)
    assert code == 0, out[-4000:]
    status = steps(doc)
    assert [s["name"] for s in doc["steps"]] == ARCHIVE_STEPS
    assert all(s["status"] in ("passed", "skipped") for s in doc["steps"]), doc["steps"]
    fresh = doc["measurements"]["freshness"]
    assert fresh["backup_time_means"] == "generated_at in its manifest"
    assert fresh["backup_time"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")  # epoch ms read as the profile says
    counts = {name: len(rows) for name, rows in kvstore.records().items()}
    assert (
        status["restore"]["status"] == "passed" and str(sum(counts.values())) in status["restore"]["message"]
    )
    assert "semantic compare" in status["manifest-compare"]["message"]
    manifest = doc["source"]["manifest"]  # the foreign manifest, normalised through the profile
    assert manifest["entity_counts"] == counts
    assert manifest["generated_at"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert manifest["schema_version"] == "2"


def test_a_local_zstd_archive_is_read_for_its_freshness_and_drilled(tmp_path: Path) -> None:
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    export_dir = kvstore.write(tmp_path / "kv-export", created_ms=int(created.timestamp() * 1000))
    archive = create_archive(export_dir, tmp_path / "kv.tar.zst", compression="zstd").path
    code, doc, out = drill(foreign_scenario(tmp_path, str(archive)), tmp_path, None)
    assert code == 0, out[-4000:]
    assert doc["measurements"]["freshness"]["backup_time"] == created.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_stale_foreign_archive_fails_freshness(tmp_path: Path) -> None:
    archive = foreign_archive(tmp_path, datetime.now(UTC) - timedelta(days=3))
    code, doc, out = drill(foreign_scenario(tmp_path, str(archive)), tmp_path, None)
    assert code == 1, out[-4000:]
    assert steps(doc)["freshness"]["status"] == "failed"


def test_a_foreign_archive_without_a_checksum_is_not_trusted(
    moto: AwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    created = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    s3.put_object(Bucket=bucket, Key=_key(created), Body=foreign_archive(tmp_path, created).read_bytes())
    code, doc, out = drill(
        foreign_scenario(tmp_path, f"s3://{bucket}/{PREFIX}/", offsite=True), tmp_path, moto
    )
    assert code == 1, out[-4000:]
    fetch = steps(doc)["fetch"]
    assert fetch["status"] == "failed" and "--checksum-algorithm SHA256" in fetch["message"]


def _key(created: datetime) -> str:
    return f"{PREFIX}/prod/{created:%Y-%m-%d}/kv-{created:%Y%m%dT%H%M%SZ}.tar.gz"


def test_the_newest_foreign_archive_under_a_prefix_is_drilled_and_its_key_matches_the_manifest(
    moto: AwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    older, newest = now - timedelta(hours=26), now - timedelta(hours=1)
    for created in (older, newest):
        archive = foreign_archive(tmp_path, created, name=f"kv-{created:%H%M%S}")
        s3.put_object(Bucket=bucket, Key=_key(created), Body=archive.read_bytes(), ChecksumAlgorithm="SHA256")
    code, doc, out = drill(
        foreign_scenario(tmp_path, f"s3://{bucket}/{PREFIX}/", offsite=True), tmp_path, moto
    )
    assert code == 0, out[-4000:]
    assert doc["source"]["archive"]["uri"].endswith(_key(newest))
    assert steps(doc)["extract"]["status"] == "passed"


def test_a_foreign_archive_whose_manifest_time_differs_from_its_key_fails(
    moto: AwsEndpoint, s3: Any, bucket: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    archive = foreign_archive(tmp_path, now - timedelta(hours=5))  # misfiled under a newer key
    s3.put_object(
        Bucket=bucket,
        Key=_key(now - timedelta(hours=1)),
        Body=archive.read_bytes(),
        ChecksumAlgorithm="SHA256",
    )
    code, doc, out = drill(
        foreign_scenario(tmp_path, f"s3://{bucket}/{PREFIX}/", offsite=True), tmp_path, moto
    )
    assert code == 1, out[-4000:]
    extract = steps(doc)["extract"]
    assert extract["status"] == "failed" and "differs from the time in the key" in extract["message"]
    assert steps(doc)["validate"]["status"] == "skipped"
