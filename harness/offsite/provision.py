"""Create a drill's archive bucket the way production should have it (embedded/LocalStack only).

Default encryption (SSE-S3 or SSE-KMS with a KMS key), versioning, all four public-access-block
flags, a lifecycle rule expiring noncurrent versions and aborting stale multipart uploads,
backup-selection tags and optional Object Lock default retention: all through the real S3 and
KMS APIs, so a drill exercises the same calls production infrastructure makes.
"""

from __future__ import annotations

from typing import Any

from harness.aws.errors import error_code, translate
from harness.aws.s3 import PUBLIC_ACCESS_BLOCK_FLAGS
from harness.errors import ConfigError
from harness.offsite.keys import check_bucket_name
from harness.offsite.settings import StorageSpec

KMS_ALIAS = "alias/drill-offsite-archive"


def _kms_key(kms: Any, wanted: str | None) -> str:
    """The ARN of ``wanted`` (id, ARN or alias), or of the harness's own key, created on first use."""
    from botocore.exceptions import ClientError

    try:
        if wanted:
            return str(kms.describe_key(KeyId=wanted)["KeyMetadata"]["Arn"])
        try:
            return str(kms.describe_key(KeyId=KMS_ALIAS)["KeyMetadata"]["Arn"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotFoundException":
                raise
        meta = kms.create_key(
            Description="drill-harness offsite archive key",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": "purpose", "TagValue": "drill-offsite-archive"}],
        )["KeyMetadata"]
        kms.create_alias(AliasName=KMS_ALIAS, TargetKeyId=meta["KeyId"])
        kms.enable_key_rotation(KeyId=meta["KeyId"])
        return str(meta["Arn"])
    except ClientError as exc:
        raise translate(exc, f"KMS key {wanted or KMS_ALIAS}") from None


def _create(s3: Any, bucket: str, region: str, object_lock: bool) -> bool:
    """Create the bucket; False when it already exists and is ours (in us-east-1 S3 answers a
    repeated create with success, so look first)."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if error_code(exc)[1] != 404:
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    if object_lock:
        kwargs["ObjectLockEnabledForBucket"] = True
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "BucketAlreadyOwnedByYou":
            return False
        raise
    return True


def _has_lock(s3: Any, bucket: str, mode: str, days: int) -> bool:
    """Whether the bucket already has exactly this default retention (provisioning twice must not put
    it again: moto refuses a repeat on a bucket that holds objects)."""
    from botocore.exceptions import ClientError

    try:
        config = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    except ClientError:
        return False
    retention = (config.get("Rule") or {}).get("DefaultRetention") or {}
    return (
        config.get("ObjectLockEnabled") == "Enabled"
        and retention.get("Mode") == mode
        and retention.get("Days") == days
        and not retention.get("Years")
    )


def provision_bucket(s3: Any, kms: Any, bucket: str, spec: StorageSpec, region: str) -> dict[str, Any]:
    """Create (or bring up to ``spec``) the archive bucket; returns what was applied, for evidence."""
    from botocore.exceptions import ClientError

    check_bucket_name(bucket, "options.offsite.bucket")
    if spec.object_lock and not spec.versioning:
        raise ConfigError("options.offsite.storage: object_lock needs versioning (S3 requires it)")
    applied: dict[str, Any] = {"bucket": bucket, "region": region}
    try:
        applied["created"] = _create(s3, bucket, region, spec.object_lock is not None)
        rule: dict[str, Any] = {"SSEAlgorithm": spec.encryption}
        if spec.encryption == "aws:kms":
            rule["KMSMasterKeyID"] = _kms_key(kms, spec.kms_key)
            applied["kms_key"] = rule["KMSMasterKeyID"]
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": rule,
                        "BucketKeyEnabled": spec.encryption == "aws:kms",
                    }
                ]
            },
        )
        applied["encryption"] = spec.encryption
        if spec.versioning:
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        applied["versioning"] = spec.versioning
        if spec.public_access_block:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(PUBLIC_ACCESS_BLOCK_FLAGS, True)
            )
        applied["public_access_block"] = spec.public_access_block
        lifecycle: dict[str, Any] = {
            "ID": "drill-archive-retention",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
        }
        if spec.noncurrent_version_days:
            lifecycle["NoncurrentVersionExpiration"] = {"NoncurrentDays": spec.noncurrent_version_days}
        if spec.abort_incomplete_multipart_days:
            lifecycle["AbortIncompleteMultipartUpload"] = {
                "DaysAfterInitiation": spec.abort_incomplete_multipart_days
            }
        if len(lifecycle) > 3:
            s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": [lifecycle]}
            )
        applied["lifecycle"] = {
            "noncurrent_version_days": spec.noncurrent_version_days,
            "abort_incomplete_multipart_days": spec.abort_incomplete_multipart_days,
        }
        if spec.tags:
            s3.put_bucket_tagging(
                Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in spec.tags.items()]}
            )
        applied["tags"] = dict(spec.tags)
        if spec.object_lock:
            wanted = {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": spec.object_lock.mode, "Days": spec.object_lock.days}},
            }
            if applied["created"] or not _has_lock(s3, bucket, spec.object_lock.mode, spec.object_lock.days):
                s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=wanted)
            applied["object_lock"] = {"mode": spec.object_lock.mode, "days": spec.object_lock.days}
    except ClientError as exc:
        raise translate(exc, f"provisioning s3://{bucket}") from None
    return applied
