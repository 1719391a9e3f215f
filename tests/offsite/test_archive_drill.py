"""Archive mode of the portable lane through ``drill run``: the newest archive production wrote,
read-only, on a real moto server (LocalStack provider aimed at it, so the test can plant archives),
and the faults the issue lists: stale, empty prefix, newest corrupt while an older one is fine,
a pinned version deleted, a heartbeat table missing or empty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from harness.aws.endpoint import AwsEndpoint
from harness.evidence import validate_evidence
from harness.portable.export import ExportResult
from tests.conftest import REFERENCE_CONTRACT, REPO
from tests.offsite.conftest import PREFIX, corrupt_stored_object, posture, upload
from tests.offsite.test_locate import archive_at, iso

WEEKLY = REPO / "scenarios" / "weekly" / "portable-archive.yaml"
ARCHIVE_STEPS = [
    "stand-in",
    "locate",
    "freshness",
    "posture",
    "fetch",
    "extract",
    "validate",
    "dry-run",
    "restore",
    "smoke",
    "manifest-compare",
    "heartbeat",
    "objectives",
]


def archive_scenario(tmp_path: Path, name: str, uri: str, **top: Any) -> Path:
    """The weekly archive scenario against a planted bucket: no stand-in, LocalStack provider."""
    data = yaml.safe_load(WEEKLY.read_text())
    data["name"] = name
    data["contract"] = str(REFERENCE_CONTRACT)
    data["source"] = {"archive": {"uri": uri}}
    data["options"].pop("stand_in")
    data["options"]["offsite"]["aws"] = {"provider": "localstack"}
    data["options"]["offsite"]["posture"] = {"mode": "enforce", "object_lock": None}
    data["smoke"] = [c for c in data["smoke"] if "heartbeat" not in c["name"]]  # planted: no stand-in's beat
    data.pop("heartbeat")  # the reference data's own 'system' notifications are months old
    data.update(top)
    path = tmp_path / "scenarios" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def on_localstack(scenario: Path, tmp_path: Path) -> Path:
    """A copy of a repository scenario on the LocalStack provider (aimed at the test's moto server)."""
    data = yaml.safe_load(scenario.read_text())
    data["contract"] = str(REFERENCE_CONTRACT)
    data["options"]["offsite"]["aws"] = {"provider": "localstack"}
    data["options"]["offsite"]["posture"]["object_lock"] = None
    path = tmp_path / "scenarios" / scenario.name
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def drill(
    path: Path, tmp_path: Path, moto: AwsEndpoint | None, *args: str
) -> tuple[int, dict[str, Any], str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_", "AWS_", "LOCALSTACK"))
    }
    env["PYTHONPATH"] = str(REPO)
    if moto is not None:
        env["LOCALSTACK_ENDPOINT"] = str(moto.endpoint_url)
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(path), "--dataset-rows", "300"]
    cmd += ["--evidence-dir", str(reports), "--work-dir", str(tmp_path / "work"), *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    found = sorted(reports.glob("*.json"))
    doc = json.loads(found[-1].read_text()) if found else {}
    if doc:
        validate_evidence(doc)
    return proc.returncode, doc, proc.stdout + proc.stderr


def steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["steps"]}


def test_the_weekly_scenario_drills_the_newest_archive_the_stand_in_wrote(tmp_path: Path) -> None:
    code, doc, out = drill(WEEKLY, tmp_path, None)
    assert code == 0, out[-4000:]
    assert [s["name"] for s in doc["steps"]] == ARCHIVE_STEPS
    assert {s["status"] for s in doc["steps"]} == {"passed"}
    drilled = doc["extra"]["archive_drill"]
    written = drilled["stand_in"]
    assert written["steps"] == {n: "passed" for n in ("seed", "export", "archive", "posture", "upload")}
    assert drilled["locate"]["how"] == "newest under prefix"
    assert drilled["locate"]["uri"] == written["archive_uri"]  # found what production wrote
    assert doc["source"]["archive"]["version_id"] == written["version_id"]  # pinned
    fresh = doc["measurements"]["freshness"]
    assert fresh["met"] is True and fresh["max_age_seconds"] == 90000
    rpo = doc["measurements"]["rpo"]
    assert rpo["method"] == "heartbeat" and rpo["heartbeat"]["table"] == "notifications"
    assert 0 <= rpo["measured_seconds"] < 600 and rpo["met"] is True
    summary = next((tmp_path / "reports").glob("*.md")).read_text()
    assert "- Freshness: newest backup `s3://drill-offsite-archive/portable-export/" in summary
    assert "- RPO (measured, newest heartbeat in `notifications`" in summary


def test_a_stale_newest_archive_fails_the_drill_naming_it_and_its_age(
    moto: AwsEndpoint, s3: Any, bucket: str, reference_export: ExportResult, tmp_path: Path
) -> None:
    old = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3, hours=2)
    stored = upload(s3, bucket, archive_at(reference_export, tmp_path, iso(old)))
    code, doc, out = drill(archive_scenario(tmp_path, "stale", f"s3://{bucket}/{PREFIX}/"), tmp_path, moto)
    assert code == 1, out[-4000:]
    fresh = steps(doc)["freshness"]
    assert fresh["status"] == "failed"
    assert fresh["message"].startswith(f"stale: the newest backup {stored.uri} is 3d 2h")
    assert "older than the 1d 1h (90000s) allowed" in fresh["message"]
    assert doc["measurements"]["freshness"]["met"] is False
    assert steps(doc)["restore"]["status"] == "passed"  # still drilled: the evidence shows both
    assert doc["reason"].startswith("step 'freshness' failed")


def test_an_empty_prefix_fails(moto: AwsEndpoint, bucket: str, tmp_path: Path) -> None:
    code, doc, out = drill(archive_scenario(tmp_path, "empty", f"s3://{bucket}/{PREFIX}/"), tmp_path, moto)
    assert code == 1, out[-4000:]
    located = steps(doc)["locate"]
    assert located["status"] == "failed"
    assert f"s3://{bucket}/{PREFIX}/: no archive under the prefix" in located["message"]
    assert {steps(doc)[s]["status"] for s in ARCHIVE_STEPS[2:]} == {"skipped"}


def test_a_corrupt_newest_archive_fails_naming_it_and_never_falls_back(
    moto: AwsEndpoint, s3: Any, bucket: str, reference_export: ExportResult, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    report = posture(s3, bucket)
    older = upload(
        s3, bucket, archive_at(reference_export, tmp_path, iso(now - timedelta(days=1))), report=report
    )
    newest = upload(
        s3, bucket, archive_at(reference_export, tmp_path, iso(now - timedelta(hours=1))), report=report
    )
    corrupt_stored_object(bucket, newest.uri.key)  # bit rot at rest; the older one stays intact
    code, doc, out = drill(archive_scenario(tmp_path, "rot", f"s3://{bucket}/{PREFIX}/"), tmp_path, moto)
    assert code == 1, out[-4000:]
    fetched = steps(doc)["fetch"]
    assert fetched["status"] == "failed"
    assert f"{newest.uri}: checksum mismatch" in fetched["message"]
    assert doc["extra"]["archive_drill"]["locate"]["uri"] == str(newest.uri)
    assert older.uri.key in doc["extra"]["archive_drill"]["locate"]["older"]
    assert older.uri.key not in json.dumps(doc["source"]) + fetched["message"]  # never fell back
    assert {steps(doc)[s]["status"] for s in ARCHIVE_STEPS[5:]} == {"skipped"}


def test_a_pinned_version_that_was_deleted_fails(
    moto: AwsEndpoint, s3: Any, bucket: str, reference_export: ExportResult, tmp_path: Path
) -> None:
    stored = upload(s3, bucket, archive_at(reference_export, tmp_path, iso(datetime.now(UTC))))
    s3.delete_object(Bucket=bucket, Key=stored.uri.key, VersionId=stored.version_id)
    path = archive_scenario(tmp_path, "gone", str(stored.uri))
    data = yaml.safe_load(path.read_text())
    data["source"]["archive"]["version_id"] = stored.version_id
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code, doc, out = drill(path, tmp_path, moto)
    assert code == 1, out[-4000:]
    assert steps(doc)["locate"]["message"] == (
        f"{stored.uri}: the pinned version {stored.version_id} is not in the bucket (deleted, or expired "
        "by a lifecycle rule); the archive of record is gone"
    )


def test_drill_run_archive_turns_an_export_scenario_into_an_archive_drill(
    moto: AwsEndpoint, s3: Any, bucket: str, reference_export: ExportResult, tmp_path: Path
) -> None:
    stored = upload(s3, bucket, archive_at(reference_export, tmp_path, iso(datetime.now(UTC))))
    path = on_localstack(REPO / "scenarios" / "weekly" / "portable-export.yaml", tmp_path)
    code, doc, out = drill(path, tmp_path, moto, "--archive", f"s3://{bucket}/{PREFIX}/")
    assert code == 0, out[-4000:]
    assert [s["name"] for s in doc["steps"]] == ARCHIVE_STEPS
    assert steps(doc)["stand-in"]["status"] == "skipped"
    assert doc["source"]["archive"] == {
        "uri": str(stored.uri),
        "version_id": stored.version_id,
        "sha256": f"sha256:{stored.sha256}",
        "size_bytes": stored.size_bytes,
    }
    smoke = steps(doc)["smoke"]["message"]
    assert "compare with the live source only: not applicable in archive mode" in smoke
    rpo = doc["measurements"]["rpo"]
    assert rpo["method"] == "bound"  # no heartbeat named: the archive's age when the restore completed
    assert rpo["definition"].startswith("bound: age of the archive")
    assert (
        s3.list_object_versions(Bucket=bucket)["Versions"][0]["VersionId"] == stored.version_id
    )  # no writes


def test_archive_for_a_run_without_an_archive_drill_exits_2(tmp_path: Path) -> None:
    path = REPO / "scenarios" / "weekly" / "pitr.yaml"
    code, _, out = drill(path, tmp_path, None, "--archive", "s3://some-bucket/prefix/")
    assert code == 2, out[-3000:]
    assert "--archive: none of the selected scenarios drills an archive" in out


def test_a_missing_or_empty_heartbeat_fails_the_measurement(
    moto: AwsEndpoint, s3: Any, bucket: str, reference_export: ExportResult, tmp_path: Path
) -> None:
    upload(s3, bucket, archive_at(reference_export, tmp_path, iso(datetime.now(UTC))))
    uri = f"s3://{bucket}/{PREFIX}/"
    missing = archive_scenario(
        tmp_path / "a", "no-beat", uri, heartbeat={"table": "app_heartbeat", "column": "at"}
    )
    code, doc, out = drill(missing, tmp_path / "a", moto)
    assert code == 1, out[-4000:]
    beat = steps(doc)["heartbeat"]
    assert beat["status"] == "failed"
    assert beat["message"].startswith("heartbeat table app_heartbeat is not in the restored data")
    assert doc["measurements"]["rpo"]["method"] == "bound"

    empty = archive_scenario(
        tmp_path / "b",
        "empty-beat",
        uri,
        heartbeat={"table": "notifications", "column": "created_at", "where": {"kind": "pager"}},
    )
    code, doc, out = drill(empty, tmp_path / "b", moto)
    assert code == 1, out[-4000:]
    assert steps(doc)["heartbeat"]["message"].startswith(
        "heartbeat table notifications holds no row matching heartbeat.where in the restored data"
    )


def test_the_stand_in_never_runs_against_real_aws(tmp_path: Path) -> None:
    code, doc, out = drill(WEEKLY, tmp_path, None, "--aws-provider", "aws")
    assert code == 2, out[-3000:]
    assert "a stand-in writes archives; it never runs against real AWS" in steps(doc)["stand-in"]["message"]


def test_archive_on_the_weekly_scenario_drills_that_archive_without_its_stand_in(
    moto: AwsEndpoint, s3: Any, bucket: str, reference_export: ExportResult, tmp_path: Path
) -> None:
    stored = upload(s3, bucket, archive_at(reference_export, tmp_path, iso(datetime.now(UTC))))
    path = on_localstack(WEEKLY, tmp_path)
    _, doc, out = drill(path, tmp_path, moto, "--archive", f"s3://{bucket}/{PREFIX}/")
    status = steps(doc)
    assert status["stand-in"]["status"] == "skipped", out[-3000:]
    assert "--archive names the archive to drill" in status["stand-in"]["message"]
    assert status["locate"]["status"] == "passed"
    assert doc["extra"]["archive_drill"]["locate"]["uri"] == str(stored.uri)
    assert status["manifest-compare"]["status"] == "passed"


def test_the_archive_drill_and_the_scenario_it_stands_in_for_verify_in_one_run(tmp_path: Path) -> None:
    """One `drill run` of both: they provision the same embedded bucket (moto's state is per process)."""
    export = REPO / "scenarios" / "weekly" / "portable-export.yaml"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_", "AWS_", "LOCALSTACK"))
    }
    env["PYTHONPATH"] = str(REPO)
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(export), str(WEEKLY), "--dataset-rows", "300"]
    cmd += ["--evidence-dir", str(reports), "--work-dir", str(tmp_path / "work")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    verdicts = {
        d["scenario"]["name"]: d["verdict"]
        for d in (json.loads(p.read_text()) for p in reports.glob("*.json"))
    }
    assert verdicts == {"portable-export": "verified", "portable-archive": "verified"}


def test_a_local_archive_given_on_the_command_line_is_read_relative_to_where_drill_runs(
    reference_export: ExportResult, tmp_path: Path
) -> None:
    made = archive_at(reference_export, tmp_path, iso(datetime.now(UTC)))
    made.path.rename(tmp_path / "nightly.tar.gz")
    path = on_localstack(REPO / "scenarios" / "weekly" / "portable-export.yaml", tmp_path)
    code, doc, out = drill(path, tmp_path, None, "--archive", "nightly.tar.gz")
    assert code == 0, out[-4000:]
    status = steps(doc)
    assert status["locate"]["message"].startswith(f"local archive {tmp_path / 'nightly.tar.gz'}")
    assert status["posture"]["status"] == "skipped" and status["fetch"]["status"] == "passed"
    assert doc["measurements"]["freshness"]["backup_time_means"] == "generated_at in its manifest"
