"""Archive key naming: environment, date, time and fixed labels only; never echo refused values."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.offsite.keys import S3Uri, archive_key, check_key, parse_s3_uri


def test_key_layout() -> None:
    key = archive_key("backups/portable", "production", "2026-01-31T02:03:04Z", "portable-export")
    assert key == "backups/portable/production/2026-01-31/portable-export-20260131T020304Z.tar.gz"


@pytest.mark.parametrize(
    ("prefix", "environment", "name", "setting", "private"),
    [
        ("backups", "production", "jane.doe@example.com", "name", "jane.doe@example.com"),
        ("backups", "Jane Doe", "export", "environment", "Jane Doe"),
        ("customers/acme-corp.example", "production", "export", "prefix", "acme-corp.example"),
        ("backups", "production", "AKIAIOSFODNN7EXAMPLE", "name", "AKIAIOSFODNN7EXAMPLE"),
        ("backups", "production", "-export", "name", "-export"),
        ("", "production", "export", "prefix", None),
    ],
)
def test_private_or_malformed_parts_are_refused_without_echo(
    prefix: str, environment: str, name: str, setting: str, private: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        archive_key(prefix, environment, "2026-01-31T02:03:04Z", name)
    message = str(info.value)
    assert message.startswith(setting)
    if private:
        assert private not in message


@pytest.mark.parametrize("stamp", ["2026-01-31", "2026-01-31T02:03:04+02:00", "yesterday", ""])
def test_generated_at_must_be_rfc3339_utc(stamp: str) -> None:
    with pytest.raises(ConfigError, match="generated_at"):
        archive_key("backups", "production", stamp, "export")


def test_check_key_refuses_other_shapes_and_token_like_parts() -> None:
    check_key("p/production/2026-01-31/export-20260131T020304Z.tar.gz")
    with pytest.raises(ConfigError, match="must follow"):
        check_key("p/production/2026-01-31/Title With Spaces.tar.gz")
    with pytest.raises(ConfigError, match="must follow"):
        check_key("production/2026-01-31/export-20260131T020304Z.tar.gz")  # no prefix


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://my-bucket/a/b.tar.gz") == S3Uri("my-bucket", "a/b.tar.gz")
    assert parse_s3_uri("s3://my-bucket") == S3Uri("my-bucket", "")
    pinned = parse_s3_uri("s3://my-bucket/a.tar.gz?versionId=3HL4kqtJ")
    assert pinned.version_id == "3HL4kqtJ"
    assert str(pinned) == "s3://my-bucket/a.tar.gz"
    assert pinned.basename == "a.tar.gz"
    for bad in ("s3://ab/x", "s3://Bad_Bucket/x", "https://bucket/x", "s3://bucket/x?acl=1"):
        with pytest.raises(ConfigError):
            parse_s3_uri(bad)


def test_label_shaped_like_a_token_is_refused_by_the_secret_scanner() -> None:
    token = "xoxb-1234567890-abcdefghijkl"  # a Slack bot token is a valid label by grammar alone
    with pytest.raises(ConfigError, match="looks like a secret") as info:
        archive_key("backups", "production", "2026-01-31T02:03:04Z", token)
    assert token not in str(info.value)
