"""Archive object names: ``<prefix>/<environment>/<YYYY-MM-DD>/<name>-<generated-at>.tar.gz``.

A key holds an environment, a date, a time and fixed labels from the scenario, nothing
else: no titles, emails, person names or credentials. Every part must match a strict
lower-case grammar, and the finished key must pass the secret scanner, before any upload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.errors import ConfigError
from harness.secrets import scan_text

#: One label: lower-case letters, digits and single hyphens; 1-63 characters.
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LABEL_RE = re.compile(LABEL)
_PREFIX_RE = re.compile(rf"{LABEL}(?:/{LABEL}){{0,7}}")
_KEY_RE = re.compile(
    rf"(?P<prefix>{LABEL}(?:/{LABEL}){{0,7}})/(?P<environment>{LABEL})/(?P<date>\d{{4}}-\d{{2}}-\d{{2}})/"
    rf"(?P<name>{LABEL})-(?P<stamp>\d{{8}}T\d{{6}}Z)\.tar\.gz"
)
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RFC3339_UTC = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class S3Uri:
    """``s3://bucket/key``; an optional ``?versionId=`` pins one object version."""

    bucket: str
    key: str = ""
    version_id: str | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    @property
    def basename(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def is_s3_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith("s3://")


def check_bucket_name(bucket: str, what: str = "bucket") -> str:
    if not _BUCKET_RE.fullmatch(bucket) or ".." in bucket or re.fullmatch(r"[\d.]+", bucket):
        raise ConfigError(
            f"{what}: {bucket!r} is not a valid S3 bucket name (3-63 lower-case letters, digits, '-' or '.')"
        )
    return bucket


def parse_s3_uri(uri: str) -> S3Uri:
    """Parse ``s3://bucket[/key][?versionId=ID]``; the error names the URI."""
    if not is_s3_uri(uri):
        raise ConfigError(f"{uri!r} is not an s3:// URI")
    rest = uri[len("s3://") :]
    version_id = None
    if "?" in rest:
        rest, _, query = rest.partition("?")
        name, _, value = query.partition("=")
        if name != "versionId" or not value:
            raise ConfigError(f"{uri}: the only query allowed is ?versionId=<id>")
        version_id = value
    bucket, _, key = rest.partition("/")
    check_bucket_name(bucket, uri)
    return S3Uri(bucket, key, version_id)


def _why(value: object) -> str:
    """Why a value is refused, without echoing it (it may be the private data we keep out)."""
    if not isinstance(value, str) or not value:
        return "it is empty or not a string"
    bad = sorted({c for c in value if not (c.islower() or c.isdigit() or c in "-/")})
    if bad:
        return f"it has {len(bad)} kind(s) of character outside a-z, 0-9 and '-' (value withheld)"
    return f"it is {len(value)} characters, or a label starts/ends with '-' or is empty (value withheld)"


def _checked(value: str, pattern: re.Pattern[str], refused: str, use: str) -> str:
    """``value`` if it fully matches ``pattern``; else a ConfigError that withholds the value."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ConfigError(f"{refused}: {_why(value)}; {use}")
    return value


def check_label(value: str, setting: str) -> str:
    return _checked(
        value,
        _LABEL_RE,
        f"{setting} is not allowed in an archive key",
        "use a fixed label of lower-case letters, digits and '-' (at most 63 characters)",
    )


def check_prefix(prefix: str, setting: str = "prefix") -> str:
    return _checked(
        prefix.strip("/") if isinstance(prefix, str) else prefix,
        _PREFIX_RE,
        f"{setting} is not allowed as an archive prefix",
        "use 1-8 '/'-separated labels of lower-case letters, digits and '-'",
    )


def parse_generated_at(value: str, setting: str = "generated_at") -> datetime:
    try:
        return datetime.strptime(value, _RFC3339_UTC).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{setting}: {value!r} is not an RFC 3339 UTC time like 2026-01-31T02:00:00Z"
        ) from None


def archive_key(prefix: str, environment: str, generated_at: str, name: str) -> str:
    """The object key for one archive; every part is checked, then the whole key."""
    moment = parse_generated_at(generated_at)
    key = (
        f"{check_prefix(prefix)}/{check_label(environment, 'environment')}/{moment:%Y-%m-%d}/"
        f"{check_label(name, 'name')}-{moment:%Y%m%dT%H%M%SZ}.tar.gz"
    )
    return check_key(key)


def check_key(key: str) -> str:
    """Refuse a key that does not follow the grammar or looks like it carries a secret."""
    if not _KEY_RE.fullmatch(key):
        raise ConfigError(
            "archive key refused (value withheld): keys must follow "
            "<prefix>/<environment>/<YYYY-MM-DD>/<name>-<YYYYMMDDTHHMMSSZ>.tar.gz with lower-case labels"
        )
    if any(scan_text(segment) for segment in key.split("/")):
        raise ConfigError("archive key refused: part of it looks like a secret or token (value withheld)")
    return key
