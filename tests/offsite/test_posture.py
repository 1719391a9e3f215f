"""Provisioning and posture against the real moto server: each missing property is caught by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError, VerificationFailed
from harness.offsite.posture import check_posture
from harness.offsite.settings import PosturePolicy, load_policy_file
from tests.offsite.conftest import assert_nothing_left, new_bucket, posture, upload, write

STRICT = PosturePolicy(object_lock_modes=("GOVERNANCE", "COMPLIANCE"), object_lock_min_days=1)


def _status(report: Any) -> dict[str, str]:
    return {c["property"]: c["status"] for c in report.to_dict()["checks"]}


def test_provisioned_bucket_passes_every_property(s3: Any, kms: Any) -> None:
    from harness.offsite.settings import ObjectLock

    bucket = new_bucket(s3, kms, object_lock=ObjectLock("COMPLIANCE", 2))
    report = check_posture(s3, bucket, "portable-export", STRICT, "us-east-1")
    assert report.passed, report.summary()
    assert set(_status(report).values()) == {"pass"}
    assert len(report.checks) == 7
    assert report.default_encryption["algorithm"] == "aws:kms"
    assert report.default_encryption["kms_key"].startswith("arn:aws:kms:")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_provisioning_again_brings_an_existing_bucket_back_to_spec(s3: Any, kms: Any) -> None:
    """A persistent endpoint (LocalStack) keeps the bucket between drills: the next drill re-applies
    the production settings to it and says it did not create it."""
    from harness.offsite.provision import provision_bucket
    from harness.offsite.settings import StorageSpec

    bucket = new_bucket(s3, kms)
    _suspend_versioning(s3, bucket)
    _no_tags(s3, bucket)
    assert not posture(s3, bucket).passed
    applied = provision_bucket(s3, kms, bucket, StorageSpec(), "us-east-1")
    assert applied["created"] is False
    assert posture(s3, bucket).passed


def _no_encryption(s3: Any, b: str) -> None:
    s3.delete_bucket_encryption(Bucket=b)


def _suspend_versioning(s3: Any, b: str) -> None:
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})


def _three_of_four_flags(s3: Any, b: str) -> None:
    flags = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True}
    s3.put_public_access_block(
        Bucket=b, PublicAccessBlockConfiguration={**flags, "RestrictPublicBuckets": False}
    )


def _no_lifecycle(s3: Any, b: str) -> None:
    s3.delete_bucket_lifecycle(Bucket=b)


def _lifecycle_elsewhere(s3: Any, b: str) -> None:
    rule = {
        "ID": "other",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [rule]})


def _no_tags(s3: Any, b: str) -> None:
    s3.delete_bucket_tagging(Bucket=b)


BREAKS: list[tuple[Callable[[Any, str], None], set[str], str]] = [
    (_no_encryption, {"encryption"}, "not configured"),
    (_suspend_versioning, {"versioning"}, "Suspended"),
    (_three_of_four_flags, {"public_access_block"}, "RestrictPublicBuckets"),
    (
        _no_lifecycle,
        {"lifecycle_noncurrent_expiration", "lifecycle_abort_incomplete_multipart"},
        "no rule expires noncurrent versions",
    ),
    (
        _lifecycle_elsewhere,
        {"lifecycle_noncurrent_expiration", "lifecycle_abort_incomplete_multipart"},
        "no rule",
    ),
    (_no_tags, {"backup_tags"}, "missing or different: backup"),
]


@pytest.mark.parametrize(("breaker", "failing", "detail"), BREAKS, ids=[b[0].__name__ for b in BREAKS])
def test_each_missing_property_fails_and_blocks_the_upload(
    s3: Any, kms: Any, archive: Any, breaker: Callable[[Any, str], None], failing: set[str], detail: str
) -> None:
    bucket = new_bucket(s3, kms)
    breaker(s3, bucket)
    report = posture(s3, bucket)
    status = _status(report)
    assert {p for p, s in status.items() if s == "fail"} == failing
    assert detail in report.summary()
    with pytest.raises(VerificationFailed, match="upload blocked by the bucket posture"):
        upload(s3, bucket, archive, report=report)
    assert_nothing_left(s3, bucket)


def test_object_lock_required_but_absent(s3: Any, kms: Any) -> None:
    bucket = new_bucket(s3, kms)  # no Object Lock
    report = check_posture(s3, bucket, "p", STRICT, "us-east-1")
    assert _status(report)["object_lock"] == "fail"
    assert "Object Lock is not enabled" in report.summary()
    # not required by the default policy: reported, not failing
    assert (
        _status(check_posture(s3, bucket, "p", PosturePolicy(), "us-east-1"))["object_lock"] == "not required"
    )


def test_short_retention_and_wrong_mode_fail(s3: Any, kms: Any) -> None:
    from harness.offsite.settings import ObjectLock

    bucket = new_bucket(s3, kms, object_lock=ObjectLock("GOVERNANCE", 1))
    report = check_posture(s3, bucket, "p", replace(STRICT, object_lock_modes=("COMPLIANCE",)), "us-east-1")
    assert "default retention mode is GOVERNANCE" in report.summary()
    report = check_posture(s3, bucket, "p", replace(STRICT, object_lock_min_days=30), "us-east-1")
    assert "default retention 1 days < 30" in report.summary()


def test_sse_s3_bucket_and_a_policy_demanding_kms(s3: Any, kms: Any) -> None:
    bucket = new_bucket(s3, kms, encryption="AES256")
    assert check_posture(s3, bucket, "p", PosturePolicy(), "us-east-1").passed
    report = check_posture(s3, bucket, "p", PosturePolicy(encryption=("aws:kms",)), "us-east-1")
    assert "default encryption is AES256" in report.summary()


def test_warn_only_reports_but_allows_upload(s3: Any, kms: Any) -> None:
    bucket = new_bucket(s3, kms)
    _suspend_versioning(s3, bucket)
    report = check_posture(s3, bucket, "p", PosturePolicy(warn_only=True), "us-east-1")
    assert not report.passed
    assert report.allows_upload
    assert report.to_dict()["mode"] == "warn-only"


def test_missing_bucket_and_wrong_region_cannot_run(s3: Any, kms: Any) -> None:
    with pytest.raises(ConfigError, match="the bucket does not exist"):
        check_posture(s3, "no-such-drill-bucket", "p", PosturePolicy(), "us-east-1")
    bucket = new_bucket(s3, kms, region="eu-west-1")
    with pytest.raises(
        ConfigError, match="is in region eu-west-1, but the drill is configured for us-east-1"
    ):
        check_posture(s3, bucket, "p", PosturePolicy(), "us-east-1")
    assert check_posture(s3, bucket, "p", PosturePolicy(), "eu-west-1").passed


def test_policy_file(tmp_path: Path) -> None:
    good = write(
        tmp_path / "policy.yaml",
        "posture:\n  mode: warn-only\n  encryption: [aws:kms]\n  lifecycle: false\n"
        "  tags: {backup: daily}\n  object_lock: {modes: [COMPLIANCE], min_days: 7}\n",
    )
    policy = load_policy_file(good)
    assert policy.warn_only
    assert policy.encryption == ("aws:kms",)
    assert policy.noncurrent_version_max_days is None
    assert policy.abort_incomplete_multipart_max_days is None
    assert policy.object_lock_modes == ("COMPLIANCE",)
    assert policy.object_lock_min_days == 7
    assert load_policy_file(write(tmp_path / "any-lock.yaml", "object_lock: {}\n")).object_lock_required
    for off in ("null", "false"):
        path = write(tmp_path / f"no-lock-{off}.yaml", f"object_lock: {off}\n")
        assert not load_policy_file(path).object_lock_required
    bad = write(tmp_path / "bad.yaml", "posture:\n  versioning: maybe\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: versioning: 'maybe' is not of type 'boolean'"):
        load_policy_file(bad)


def test_scenario_options_are_validated_with_file_and_setting() -> None:
    from harness.portable.options import parse_options

    def load(options: dict[str, Any], name: str = "weekly") -> Any:
        return parse_options(options, where="s.yaml", scenario_name=name, source_environment="drill").offsite

    assert load({}) is None  # no offsite section: the archive stays local
    settings = load({"offsite": {"bucket": "drill-archive", "upload": {"part_size_mb": 8}}})
    assert settings.aws.provider == "embedded"
    assert settings.name == "weekly"
    assert settings.transfer.part_size == 8 * 1024 * 1024
    assert settings.should_provision("embedded")
    assert not settings.should_provision("aws")
    with pytest.raises(
        ConfigError, match=r"s\.yaml: options\.offsite\.bucket: 'Not_A_Bucket' does not match"
    ):
        load({"offsite": {"bucket": "Not_A_Bucket"}})
    with pytest.raises(ConfigError, match=r"s\.yaml: options: Additional properties"):
        load({"ofsite": {"bucket": "drill-archive"}})
    with pytest.raises(ConfigError, match=r"options\.offsite\.name"):
        load({"offsite": {"bucket": "drill-archive"}}, name="weekly_2")
    with pytest.raises(ConfigError, match="endpoint_url is only for provider localstack"):
        load({"offsite": {"bucket": "drill-archive", "aws": {"endpoint_url": "http://x:1"}}})
    never = load({"offsite": {"bucket": "drill-archive", "provision": True, "aws": {"provider": "aws"}}})
    with pytest.raises(ConfigError, match="never creates buckets in real AWS"):
        never.should_provision("aws")


def test_provisioning_again_a_locked_bucket_that_holds_archives_changes_nothing(s3: Any, kms: Any) -> None:
    """A stand-in and the scenario it stands in for provision the same bucket within one drill run."""
    from harness.offsite.provision import provision_bucket
    from harness.offsite.settings import ObjectLock, StorageSpec

    spec = StorageSpec(object_lock=ObjectLock("GOVERNANCE", 1))
    name = "drill-provisioned-twice"
    assert provision_bucket(s3, kms, name, spec, "us-east-1")["created"] is True
    s3.put_object(Bucket=name, Key="portable-export/x", Body=b"x", ChecksumAlgorithm="SHA256")
    again = provision_bucket(s3, kms, name, spec, "us-east-1")
    assert again["created"] is False and again["object_lock"] == {"mode": "GOVERNANCE", "days": 1}
    config = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    lock = config["Rule"]["DefaultRetention"]
    assert (lock["Mode"], lock["Days"]) == ("GOVERNANCE", 1)
