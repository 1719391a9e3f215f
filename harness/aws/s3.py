"""S3 helpers every lane shares: the public-access-block flags, and bucket existence and region checks."""

from __future__ import annotations

from typing import Any

from harness.aws.errors import DENIED_CODES, MISSING_CODES, error_code, translate
from harness.errors import ConfigError

#: The four public-access-block settings, all of which a backup bucket must have on.
PUBLIC_ACCESS_BLOCK_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def bucket_region(s3: Any, bucket: str, *, tolerate_forbidden: bool = False) -> str | None:
    """The bucket's region. Missing bucket: ConfigError; forbidden: ProviderError (or None if tolerated)."""
    from botocore.exceptions import ClientError

    try:
        response = s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code, status, _ = error_code(exc)
        if status == 404 or code in MISSING_CODES:
            raise ConfigError(
                f"s3://{bucket}: the bucket does not exist (or these credentials cannot see it)"
            ) from None
        if tolerate_forbidden and (status == 403 or code in DENIED_CODES):
            return None
        raise translate(exc, f"s3://{bucket}") from None
    except Exception as exc:
        raise translate(exc, f"s3://{bucket}") from None
    headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
    region = headers.get("x-amz-bucket-region") or response.get("BucketRegion")
    if not region:
        try:
            location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        except Exception as exc:
            raise translate(exc, f"s3://{bucket}") from None
        region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    return str(region)


def check_bucket(s3: Any, bucket: str, region: str, *, tolerate_forbidden: bool = False) -> str | None:
    """Refuse a bucket that is missing or lives in another region than the one configured."""
    actual = bucket_region(s3, bucket, tolerate_forbidden=tolerate_forbidden)
    if actual is not None and actual != region:
        raise ConfigError(
            f"s3://{bucket} is in region {actual}, but the drill is configured for {region} "
            "(set options.offsite.aws.region, --region or AWS_REGION to the bucket's region)"
        )
    return actual
