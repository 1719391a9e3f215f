"""An archive drill only reads its source, and the documented minimal policy allows every call it
makes: every S3 request of a real drill is recorded (botocore ``before-call``), mapped to its IAM
action, and decided by the gate's IAM engine against fixtures/gate/archive-reader's role."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from harness.aws.endpoint import AwsEndpoint
from harness.gate.iam import Request, evaluate
from harness.gate.policies import collect_roles
from harness.gate.spec import load_spec
from harness.gate.templates import Resolver, load_template
from harness.lanes import lane_class
from harness.lanes.runner import run_lane, start
from harness.portable.export import ExportResult
from harness.scenario import RunOptions, load_scenario
from tests.conftest import REPO
from tests.offsite.conftest import PREFIX, upload
from tests.offsite.test_archive_drill import archive_scenario
from tests.offsite.test_locate import archive_at, iso

FIXTURE = REPO / "fixtures" / "gate" / "archive-reader"
#: S3 operation -> the IAM action it needs (a drill making any other call fails this test).
ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "GetBucketTagging": "s3:GetBucketTagging",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
}


def _requests(calls: list[tuple[str, dict[str, Any]]]) -> list[Request]:
    out = []
    for operation, params in calls:
        action = ACTIONS[operation]
        bucket = params["Bucket"]
        if "Key" in params:
            resource = f"arn:aws:s3:::{bucket}/{params['Key']}"
            if params.get("VersionId"):
                out.append(Request.make("s3:GetObjectVersion", resource, {}))
        else:
            resource = f"arn:aws:s3:::{bucket}"
        context = {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}
        out.append(Request.make(action, resource, context))
    return out


def test_an_archive_drill_makes_only_read_calls_the_minimal_policy_allows(
    moto: AwsEndpoint,
    s3: Any,
    bucket: str,
    reference_export: ExportResult,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = upload(s3, bucket, archive_at(reference_export, tmp_path, iso(datetime.now(UTC))))
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", str(moto.endpoint_url))
    path = archive_scenario(tmp_path, "read-only", f"s3://{bucket}/{PREFIX}/")
    calls: list[tuple[str, dict[str, Any]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, dict(params)))

    session = boto3.DEFAULT_SESSION or boto3.setup_default_session() or boto3.DEFAULT_SESSION
    assert session is not None
    session.events.register("before-parameter-build.s3", lambda params, model, **kw: record(model, params))
    try:
        scenario = load_scenario(path)
        options = RunOptions(evidence_dir=tmp_path / "reports", work_dir=tmp_path / "work", dataset_rows=300)
        lane, evidence = start(lane_class(scenario.lane).for_scenario(scenario, options), scenario, options)
        doc = run_lane(lane, evidence)
    finally:
        session.events.unregister("before-parameter-build.s3")
    assert doc["verdict"] == "verified", doc["reason"]
    operations = {op for op, _ in calls}
    assert operations <= set(ACTIONS), operations - set(ACTIONS)  # Get, Head, List only
    assert {"ListObjectsV2", "HeadObject", "GetObject"} <= operations
    fetched = [p for op, p in calls if op == "GetObject"]
    assert fetched and all(
        p["Key"] == stored.uri.key and p["VersionId"] == stored.version_id for p in fetched
    )

    spec = load_spec(FIXTURE / "spec.yaml")
    template = load_template(FIXTURE / "good" / "archive-reader-role.yaml")
    parameters = {**spec.parameters, "ArchiveBucketName": bucket, "ArchivePrefix": PREFIX}
    role = collect_roles(template, Resolver(template, parameters))["ArchiveDrillRole"]
    denied = [r for r in _requests(calls) if not evaluate(role.statements, r).allowed]
    assert denied == []
