"""The portable-export lane with its offsite steps, through ``drill run`` in a subprocess.

The same scenario runs on the three AWS providers: only the endpoint and credentials differ.
"localstack" and "aws" are aimed at this test session's moto server (an S3-compatible
endpoint; real AWS through the standard chain with AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.aws.endpoint import AwsEndpoint
from harness.evidence import validate_evidence
from tests.conftest import REFERENCE_CONTRACT, REPO
from tests.offsite.conftest import new_bucket, no_multipart_uploads
from tests.offsite.faults import fault_proxy, first_n
from tests.offsite.test_cli import FAKE_KEY_ID, FAKE_SECRET, FAKE_SESSION_TOKEN, assert_no_secrets

STEPS = [
    "seed",
    "export",
    "archive",
    "posture",
    "upload",
    "fetch",
    "extract",
    "validate",
    "dry-run",
    "restore",
    "smoke",
    "re-export-compare",
]


def scenario(tmp_path: Path, name: str, offsite: dict[str, Any] | None, **top: Any) -> Path:
    data = yaml.safe_load((REPO / "scenarios" / "weekly" / "portable-export.yaml").read_text())
    data["name"] = name
    data["contract"] = str(REFERENCE_CONTRACT)
    data["options"] = {"offsite": offsite} if offsite is not None else {}
    data.update(top)
    path = tmp_path / "scenarios" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def drill_run(path: Path, tmp_path: Path, *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_", "AWS_", "LOCALSTACK"))
    }
    clean.update(PYTHONPATH=str(REPO), **env)
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(path), "--dataset-rows", "200"]
    cmd += ["--evidence-dir", str(reports), "--work-dir", str(tmp_path / "work"), *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=300)
    [report] = list(reports.glob("*.json"))
    doc = json.loads(report.read_text())
    validate_evidence(doc)
    return proc.returncode, doc, proc.stdout + proc.stderr


def steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in doc["steps"]}


def test_localstack_endpoint_runs_the_same_lane(moto: AwsEndpoint, s3: Any, tmp_path: Path) -> None:
    bucket = f"drill-ls-{os.getpid()}"
    path = scenario(tmp_path, "via-localstack", {"bucket": bucket, "prefix": "weekly"})
    code, doc, out = drill_run(
        path, tmp_path, "--aws-provider", "localstack", LOCALSTACK_ENDPOINT=str(moto.endpoint_url)
    )
    assert code == 0, out[-3000:]
    assert [s["name"] for s in doc["steps"]] == STEPS
    offsite = doc["extra"]["offsite"]
    assert offsite["provider"] == "localstack"
    assert offsite["provisioned"]["created"] is True  # the harness creates drill buckets on LocalStack
    version = offsite["upload"]["version_id"]
    assert doc["source"]["archive"]["version_id"] == version
    key = doc["source"]["archive"]["uri"].split("/", 3)[3]
    assert s3.head_object(Bucket=bucket, Key=key, VersionId=version)["ServerSideEncryption"] == "aws:kms"


def test_real_aws_path_uses_the_standard_chain_and_never_provisions(
    moto: AwsEndpoint, s3: Any, kms: Any, tmp_path: Path
) -> None:
    bucket = new_bucket(s3, kms)  # on AWS the bucket comes from infrastructure code
    path = scenario(tmp_path, "via-aws", {"bucket": bucket, "aws": {"provider": "aws"}})
    code, doc, out = drill_run(
        path,
        tmp_path,
        AWS_ENDPOINT_URL=str(moto.endpoint_url),
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=FAKE_KEY_ID,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET,
        AWS_SESSION_TOKEN=FAKE_SESSION_TOKEN,
    )
    assert code == 0, out[-3000:]
    offsite = doc["extra"]["offsite"]
    assert offsite["provider"] == "aws"
    assert offsite["provisioned"] is None
    assert offsite["endpoint"]["endpoint_url"] is None
    assert doc["source"]["archive"]["uri"].startswith(f"s3://{bucket}/drills/drill/")
    assert_no_secrets(json.dumps(doc) + out)


def test_failing_posture_blocks_the_upload(moto: AwsEndpoint, s3: Any, kms: Any, tmp_path: Path) -> None:
    bucket = new_bucket(s3, kms)
    s3.delete_public_access_block(Bucket=bucket)
    offsite = {"bucket": bucket, "provision": False, "aws": {"provider": "localstack"}}
    env = {"LOCALSTACK_ENDPOINT": str(moto.endpoint_url)}
    code, doc, out = drill_run(scenario(tmp_path / "a", "blocked", offsite), tmp_path / "a", **env)
    assert code == 1, out[-3000:]
    status = steps(doc)
    assert status["posture"]["status"] == "failed"
    assert "upload blocked" in status["posture"]["message"]
    assert "public_access_block" in status["posture"]["message"]
    assert {status[s]["status"] for s in STEPS[4:]} == {"skipped"}
    assert doc["verdict"] == "failed"
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    offsite["posture"] = {"mode": "warn-only"}
    code, doc, out = drill_run(scenario(tmp_path / "b", "warned", offsite), tmp_path / "b", **env)
    assert code == 0, out[-3000:]
    assert steps(doc)["posture"]["message"].startswith("WARN-ONLY, upload allowed")
    assert doc["extra"]["offsite"]["posture"]["passed"] is False


def test_persistent_s3_errors_fail_the_upload_step_cleanly(
    moto: AwsEndpoint, s3: Any, kms: Any, tmp_path: Path
) -> None:
    bucket = new_bucket(s3, kms)
    offsite = {
        "bucket": bucket,
        "provision": False,
        "aws": {"provider": "localstack"},
        "upload": {"max_attempts": 2},
    }
    rule = first_n(-1, lambda method, target: method == "PUT" and "/drills/" in target, "503")
    with fault_proxy(str(moto.endpoint_url), rule) as proxy:
        code, doc, out = drill_run(
            scenario(tmp_path, "throttled", offsite), tmp_path, LOCALSTACK_ENDPOINT=proxy.url
        )
    assert proxy.injected == 2
    assert code == 2, out[-3000:]
    status = steps(doc)
    assert status["upload"]["status"] == "error"
    assert "S3 kept failing with SlowDown (HTTP 503) after 2 attempt(s)" in status["upload"]["message"]
    assert "[upload] could not run" in out
    assert {status[s]["status"] for s in STEPS[5:]} == {"skipped"}
    assert no_multipart_uploads(s3, bucket)


def test_docker_services_without_a_daemon_skip_the_drill(tmp_path: Path) -> None:
    path = scenario(
        tmp_path, "needs-docker", None, target={"postgres": {"provider": "docker"}, "environment": "scratch"}
    )
    code, doc, out = drill_run(path, tmp_path, DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert code == 1, out[-3000:]  # skipped is never verified
    assert doc["verdict"] == "failed"
    assert {s["status"] for s in doc["steps"]} == {"skipped"}
    message = steps(doc)["seed"]["message"]
    assert "target.postgres.provider is docker" in message
    assert "no Docker daemon is reachable at unix:///nonexistent/docker.sock" in message
    assert "12 skipped" in out


def test_localstack_without_endpoint_or_docker_skips_the_offsite_steps(tmp_path: Path) -> None:
    path = scenario(tmp_path, "no-localstack", {"bucket": "drill-archive", "aws": {"provider": "localstack"}})
    code, doc, out = drill_run(
        path, tmp_path, "-k", "not restore", DOCKER_HOST="unix:///nonexistent/docker.sock"
    )
    assert code == 1, out[-3000:]
    status = steps(doc)
    assert status["posture"]["status"] == "skipped"
    assert "set LOCALSTACK_ENDPOINT, AWS_ENDPOINT_URL or LOCALSTACK_HOST" in status["posture"]["message"]
    assert "no Docker daemon is reachable" in status["posture"]["message"]
    assert status["extract"]["status"] == "skipped"
    assert status["validate"]["status"] == "skipped"  # never validates the local copy instead
