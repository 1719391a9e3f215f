"""Bucket posture: read the live bucket configuration and judge each property against a policy.

Properties: default encryption, versioning, the four public-access-block flags, lifecycle
(noncurrent-version expiration and stale multipart clean-up, on rules covering the archive
prefix), backup-selection tags and, when the policy asks, Object Lock default retention. A
property that cannot be read because access is denied fails with that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.aws.errors import error_code, translate
from harness.aws.s3 import PUBLIC_ACCESS_BLOCK_FLAGS, check_bucket
from harness.offsite.settings import PosturePolicy

_NOT_CONFIGURED = {
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchLifecycleConfiguration",
    "NoSuchTagSet",
    "ObjectLockConfigurationNotFoundError",
}


#: A property's judge: (passed, actual value, failure detail).
Judge = Callable[[], tuple[bool, Any, str]]


class _Unreadable(Exception):
    """A configuration could not be read (access denied)."""


@dataclass(frozen=True)
class PostureCheck:
    name: str
    required: bool
    passed: bool
    expected: Any
    actual: Any
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        status = ("pass" if self.passed else "fail") if self.required else "not required"
        return {
            "property": self.name,
            "status": status,
            "expected": self.expected,
            "actual": self.actual,
            "detail": self.detail,
        }


@dataclass
class PostureReport:
    bucket: str
    prefix: str
    region: str | None
    warn_only: bool
    checks: list[PostureCheck] = field(default_factory=list)
    default_encryption: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> list[PostureCheck]:
        return [c for c in self.checks if c.required and not c.passed]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def allows_upload(self) -> bool:
        return self.passed or self.warn_only

    def summary(self) -> str:
        required = [c for c in self.checks if c.required]
        if self.passed:
            return f"s3://{self.bucket}: all {len(required)} required posture properties pass"
        failed = "; ".join(f"{c.name}: {c.detail}" for c in self.failures)
        return f"s3://{self.bucket}: {len(self.failures)}/{len(required)} posture properties fail: {failed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "prefix": self.prefix,
            "region": self.region,
            "mode": "warn-only" if self.warn_only else "enforce",
            "passed": self.passed,
            "upload_allowed": self.allows_upload,
            "checks": [c.to_dict() for c in self.checks],
        }


def _read(call: Callable[..., dict[str, Any]], bucket: str) -> dict[str, Any] | None:
    """A bucket sub-resource, ``None`` when it is not configured; raises _Unreadable when denied."""
    from botocore.exceptions import ClientError

    try:
        return call(Bucket=bucket)
    except ClientError as exc:
        code, status, _ = error_code(exc)
        if code in _NOT_CONFIGURED:
            return None
        if status == 403 or code == "AccessDenied":
            raise _Unreadable(f"could not read the configuration: access denied ({code or status})") from None
        raise translate(exc, f"s3://{bucket}") from None


def _check(name: str, required: bool, expected: Any, judge: Judge) -> PostureCheck:
    try:
        passed, actual, detail = judge()
    except _Unreadable as exc:
        return PostureCheck(name, required, False, expected, None, str(exc))
    return PostureCheck(name, required, passed, expected, actual, detail)


def _covers(rule: dict[str, Any], prefix: str) -> bool:
    """Whether an enabled lifecycle rule applies to every object under ``prefix``."""
    if rule.get("Status") != "Enabled":
        return False
    filt = rule.get("Filter")
    if filt is None:
        rule_prefix = rule.get("Prefix", "")
    elif set(filt) <= {"Prefix"}:
        rule_prefix = filt.get("Prefix", "")
    else:
        return False  # tag/size filters: not every archive is covered
    return f"{prefix}/".startswith(rule_prefix)


def check_posture(s3: Any, bucket: str, prefix: str, policy: PosturePolicy, region: str) -> PostureReport:
    """Read the live configuration of ``bucket`` and judge it; raises only when it cannot run."""
    actual_region = check_bucket(s3, bucket, region)
    report = PostureReport(bucket, prefix, actual_region, policy.warn_only)
    cache: dict[str, dict[str, Any] | None] = {}

    def conf(op: str) -> dict[str, Any] | None:
        if op not in cache:
            cache[op] = _read(getattr(s3, op), bucket)
        return cache[op]

    def encryption() -> tuple[bool, Any, str]:
        data = conf("get_bucket_encryption") or {}
        rules = data.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {}) if rules else {}
        algorithm = default.get("SSEAlgorithm")
        if algorithm:
            report.default_encryption = {"algorithm": algorithm, "kms_key": default.get("KMSMasterKeyID", "")}
        grade = "aws:kms" if str(algorithm).startswith("aws:kms") else algorithm
        ok = grade in policy.encryption
        return ok, algorithm, "" if ok else f"default encryption is {algorithm or 'not configured'}"

    def versioning() -> tuple[bool, Any, str]:
        status = (conf("get_bucket_versioning") or {}).get("Status") or "Disabled"
        return status == "Enabled", status, "" if status == "Enabled" else f"versioning is {status}"

    def public_access_block() -> tuple[bool, Any, str]:
        flags = (conf("get_public_access_block") or {}).get("PublicAccessBlockConfiguration", {})
        off = [f for f in PUBLIC_ACCESS_BLOCK_FLAGS if not flags.get(f)]
        detail = f"not set: {', '.join(off)}" if off else ""
        return not off, {f: bool(flags.get(f)) for f in PUBLIC_ACCESS_BLOCK_FLAGS}, detail

    def rules() -> list[dict[str, Any]]:
        return [
            r
            for r in (conf("get_bucket_lifecycle_configuration") or {}).get("Rules", [])
            if _covers(r, prefix)
        ]

    def lifecycle(action: str, days_field: str, limit: int | None, absent: str) -> Judge:
        """Judge the shortest ``action`` period among the rules covering the prefix against ``limit``."""

        def judge() -> tuple[bool, Any, str]:
            days = [r[action].get(days_field) for r in rules() if action in r]
            best = min((d for d in days if d), default=None)
            ok = best is not None and (limit is None or best <= limit)
            detail = "" if ok else (absent if best is None else f"{best} days > {limit}")
            return ok, best, detail

        return judge

    def tags() -> tuple[bool, Any, str]:
        found = {t["Key"]: t["Value"] for t in (conf("get_bucket_tagging") or {}).get("TagSet", [])}
        missing = [k for k, v in policy.tags.items() if k not in found or v not in ("*", found[k])]
        return not missing, found, f"missing or different: {', '.join(missing)}" if missing else ""

    def object_lock() -> tuple[bool, Any, str]:
        data = (conf("get_object_lock_configuration") or {}).get("ObjectLockConfiguration", {})
        retention = data.get("Rule", {}).get("DefaultRetention", {})
        days = (retention.get("Days") or 0) + 365 * (retention.get("Years") or 0)
        actual = {
            "enabled": data.get("ObjectLockEnabled") == "Enabled",
            "mode": retention.get("Mode"),
            "days": days,
        }
        problems = [] if actual["enabled"] else ["Object Lock is not enabled"]
        if actual["enabled"] and policy.object_lock_modes and actual["mode"] not in policy.object_lock_modes:
            problems.append(f"default retention mode is {actual['mode'] or 'not set'}")
        if actual["enabled"] and policy.object_lock_min_days and days < policy.object_lock_min_days:
            problems.append(f"default retention {days} days < {policy.object_lock_min_days}")
        return not problems, actual, "; ".join(problems)

    report.checks = [
        _check("encryption", bool(policy.encryption), list(policy.encryption), encryption),
        _check("versioning", policy.versioning, "Enabled", versioning),
        _check("public_access_block", policy.public_access_block, "all four flags", public_access_block),
        _check(
            "lifecycle_noncurrent_expiration",
            policy.noncurrent_version_max_days is not None,
            {"max_days": policy.noncurrent_version_max_days},
            lifecycle(
                "NoncurrentVersionExpiration",
                "NoncurrentDays",
                policy.noncurrent_version_max_days,
                "no rule expires noncurrent versions",
            ),
        ),
        _check(
            "lifecycle_abort_incomplete_multipart",
            policy.abort_incomplete_multipart_max_days is not None,
            {"max_days": policy.abort_incomplete_multipart_max_days},
            lifecycle(
                "AbortIncompleteMultipartUpload",
                "DaysAfterInitiation",
                policy.abort_incomplete_multipart_max_days,
                "no rule aborts incomplete multipart uploads",
            ),
        ),
        _check("backup_tags", bool(policy.tags), dict(policy.tags), tags),
        _check(
            "object_lock",
            policy.object_lock_required,
            {"modes": list(policy.object_lock_modes), "min_days": policy.object_lock_min_days},
            object_lock,
        ),
    ]
    return report
