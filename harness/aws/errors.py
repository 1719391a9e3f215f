"""AWS errors as drill errors: one translation of botocore failures, naming what failed, never a secret."""

from __future__ import annotations

from harness.errors import ConfigError, DrillError, ProviderError, VerificationFailed

DENIED_CODES = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AccessDeniedException",
    "UnrecognizedClientException",
}
MISSING_CODES = {"NoSuchBucket", "NoSuchKey", "NoSuchVersion", "NotFound", "404"}


def error_code(exc: BaseException) -> tuple[str, int | None, int]:
    """(code, HTTP status, retry attempts) of a botocore ClientError; ("", None, 0) otherwise."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", None, 0
    meta = response.get("ResponseMetadata") or {}
    code = str((response.get("Error") or {}).get("Code", ""))
    return code, meta.get("HTTPStatusCode"), int(meta.get("RetryAttempts") or 0)


def translate(exc: BaseException, what: str) -> DrillError | VerificationFailed:
    """A clear drill error for a failed AWS call; names ``what`` (a URI or an operation), never secrets."""
    from botocore import exceptions as bex

    if isinstance(exc, DrillError | VerificationFailed):
        return exc  # the harness's own verdicts pass through unchanged
    if isinstance(exc, bex.NoCredentialsError | bex.PartialCredentialsError):
        return ProviderError(
            f"{what}: no AWS credentials found through the standard chain "
            "(environment, profile, web identity/OIDC, instance role)"
        )
    if isinstance(exc, bex.ClientError):
        code, status, attempts = error_code(exc)
        if code in DENIED_CODES or status == 403:
            return ProviderError(
                f"{what}: access denied ({code or status}); the credentials in use lack the permission"
            )
        if code in MISSING_CODES or status == 404:
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


#: Codes of a failed object call that mean the object (or the version asked for) does not exist.
OBJECT_MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "NotFound", "404"}


def missing_object(exc: BaseException) -> bool:
    """Whether a failed object call (HEAD, GET) says the object or version does not exist; a missing
    bucket is not a missing object."""
    code, status, _ = error_code(exc)
    return code in OBJECT_MISSING_CODES or (status == 404 and code != "NoSuchBucket")
