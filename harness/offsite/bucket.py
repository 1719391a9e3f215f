"""Shared S3 plumbing: turning botocore errors into drill errors, and bucket existence/region checks."""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError, DrillError, ProviderError

_DENIED = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AccessDeniedException",
    "UnrecognizedClientException",
}
_MISSING = {"NoSuchBucket", "NoSuchKey", "NoSuchVersion", "NotFound", "404"}


def error_code(exc: BaseException) -> tuple[str, int | None, int]:
    """(code, HTTP status, retry attempts) of a botocore ClientError; ("", None, 0) otherwise."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", None, 0
    meta = response.get("ResponseMetadata") or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    return code, meta.get("HTTPStatusCode"), int(meta.get("RetryAttempts") or 0)


def translate(exc: BaseException, what: str) -> DrillError:
    """A clear drill error for a failed AWS call; names ``what`` (a URI or an operation), never secrets."""
    from botocore import exceptions as bex

    if isinstance(exc, DrillError):
        return exc
    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return ProviderError(
            f"{what}: no AWS credentials found through the standard chain "
            "(environment, profile, web identity/OIDC, instance role)"
        )
    if isinstance(exc, bex.ClientError):
        code, status, attempts = error_code(exc)
        if code in _DENIED or status == 403:
            return ProviderError(
                f"{what}: access denied ({code or status}); the credentials in use lack the permission"
            )
        if code in _MISSING or status == 404:
            return ConfigError(f"{what}: not found ({code or status})")
        if status is not None and (status >= 500 or code in {"SlowDown", "Throttling", "RequestTimeout"}):
            return ProviderError(
                f"{what}: S3 kept failing with {code or 'an error'} (HTTP {status}) "
                f"after {attempts + 1} attempt(s)"
            )
        return ProviderError(f"{what}: {code or 'error'} (HTTP {status})")
    if isinstance(exc, bex.BotoCoreError | ConnectionError | TimeoutError):
        return ProviderError(f"{what}: connection to the S3 endpoint failed: {type(exc).__name__}: {exc}")
    return ProviderError(f"{what}: unexpected {type(exc).__name__}: {exc}")


def bucket_region(s3: Any, bucket: str, *, tolerate_forbidden: bool = False) -> str | None:
    """The bucket's region. Missing bucket: ConfigError; forbidden: ProviderError (or None if tolerated)."""
    from botocore.exceptions import ClientError

    try:
        response = s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code, status, _ = error_code(exc)
        if status == 404 or code in _MISSING:
            raise ConfigError(
                f"s3://{bucket}: the bucket does not exist (or these credentials cannot see it)"
            ) from None
        if tolerate_forbidden and (status == 403 or code in _DENIED):
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
