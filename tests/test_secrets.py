"""Secret scanner: each kind is caught, ordinary export values are not, values never echoed."""

from __future__ import annotations

import orjson
import pytest

from harness.secrets import SecretHit, might_hold_secret, scan_record, scan_text

# Built by concatenation so the repository itself never holds a scanner-shaped literal.
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfi" + "CYEXAMPLEKEY"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
BCRYPT = "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
ARGON2 = "$argon2id$" + "v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
PBKDF2 = "pbkdf2_sha256$" + "600000$abcdefgh$Zm9vYmFyYmF6cXV4"
SCRYPT = "scrypt:32768:8:1$" + "abcdEFGH12345678$9f86d081884c7d659a2feaa0c55ad015"
PRESIGNED = (
    "https://bucket.s3.amazonaws.com/k.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20261123%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=" + "ab" * 32
)
LEGACY_SIGNED = "https://b.s3.amazonaws.com/k?AWSAccessKeyId=X&Expires=1700000000&Signature=" + "abcDEF123%2B"
AZURE_SAS = (
    "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-12-01&sig=" + "AbCdEf0123456789%2BxyZ"
)
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
SLACK = "xoxb-" + "123456789012-abcdefABCDEF"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
GOOGLE = "AIza" + "SyA-1234567890abcdefghijklmnopqrstu"
RANDOM_TOKEN = "dk_live_" + "Q7fK2mZp9LxV4bNc8RtY3wHs6JdG1eUa"
SLASHED_TOKEN = "Kq8sP2xV9mN4/" + "bT7wZ3yH6jL1cF5gR0dA8eU"  # base64 with a "/": no path of words

CASES = [
    (AWS_KEY_ID, "aws_access_key_id"),
    (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key"),
    (JWT, "jwt"),
    (BCRYPT, "bcrypt_hash"),
    (ARGON2, "argon2_hash"),
    (PBKDF2, "pbkdf2_hash"),
    (SCRYPT, "scrypt_hash"),
    (PRESIGNED, "signed_url"),
    (LEGACY_SIGNED, "signed_url"),
    (AZURE_SAS, "signed_url"),
    (PEM, "private_key"),
    (GITHUB, "github_token"),
    (SLACK, "slack_token"),
    (STRIPE, "stripe_key"),
    (GOOGLE, "google_api_key"),
    (RANDOM_TOKEN, "high_entropy_token"),
    (SLASHED_TOKEN, "high_entropy_token"),
]


@pytest.mark.parametrize(("value", "kind"), CASES, ids=[k for _, k in CASES])
def test_each_kind_is_found_alone_and_inside_prose(value: str, kind: str) -> None:
    assert scan_text(value) == kind
    assert scan_text(f"see the note: {value} -- then carry on") == kind


BENIGN = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "2026-11-23T09:00:23.123456Z",
    "s3://drill-app-files/u/42/7c9e6679-7425-40de-944b-e07fc1f90ae7/quarterly-report-final.pdf",
    "/work/main/reports/weekly-portable-export-20261123T090023Z-3f2a9c1b.json",
    # an object key relative to its bucket: one token with its prefix (flagged at some seconds)
    "drills/portable-export-20261130T155840Z.tar.gz",
    "weekly/drills/portable-export-20261130T155840Z.tar.zst",
    "https://files.example.test/u/42/quarterly_planning_meeting_notes_2026_Q4_revision_3.docx",
    "recurring_configuration_template_identifier_for_weekly_standup",
    "Discuss the Q4 roadmap with Ana and Bo; follow up on INC-20431 before Friday.",
    "ana.lopez+drills@example.test",
    "A perfectly ordinary sentence that is long enough to be scanned but holds nothing.",
]


@pytest.mark.parametrize("value", BENIGN)
def test_ordinary_export_values_are_not_flagged(value: str) -> None:
    assert scan_text(value) is None


def test_record_paths_name_nested_fields_and_list_indices() -> None:
    record = {"id": 1, "meta": {"tags": ["ok", "fine", GITHUB]}, "body": f"token {JWT}"}
    hits = scan_record(record)
    assert {(h.path, h.kind) for h in hits} == {("meta.tags[2]", "github_token"), ("body", "jwt")}


def test_credential_field_names_are_secrets_whatever_the_value() -> None:
    hits = scan_record({"id": 1, "password_hash": "plain", "api_key": "", "profile": {"client_secret": "x"}})
    assert {(h.path, h.kind) for h in hits} == {
        ("password_hash", "credential_field"),
        ("profile.client_secret", "credential_field"),
    }


def test_secret_named_field_with_aws_secret_shape() -> None:
    assert [h.kind for h in scan_record({"aws_secret": AWS_SECRET})] == ["aws_secret_access_key"]


def test_allow_fields_skip_declared_paths_without_indices() -> None:
    record = {"hash": "Zx9" + "Q7fK2mZp9LxV4bNc8RtY3wHs6JdG1eUa", "meta": {"tags": [GITHUB]}, "body": GITHUB}
    hits = scan_record(record, allow_fields=("hash", "meta.tags"))
    assert [h.path for h in hits] == ["body"]


def test_describe_never_echoes_the_value() -> None:
    for value, _ in CASES:
        (hit,) = scan_record({"note": value})
        text = hit.describe()
        assert value not in text and value[4:16] not in text
        assert "note" in text and hit.kind.replace("_", " ") in text


def test_hit_is_immutable_and_hashable() -> None:
    hit = SecretHit("a", "jwt", 10)
    assert hit in {hit}
    with pytest.raises(AttributeError):
        hit.kind = "other"  # type: ignore[misc]


def test_short_and_non_string_values_are_ignored() -> None:
    assert scan_record({"id": 123456789, "ok": True, "n": None, "s": "short"}) == []


@pytest.mark.parametrize(("value", "kind"), CASES, ids=[k for _, k in CASES])
def test_line_prefilter_never_hides_a_secret(value: str, kind: str) -> None:
    """might_hold_secret() lets the validator skip clean lines; it must pass every secret through."""
    for record in ({"note": value}, {"note": f"line one\n{value}\tend"}, {"meta": {"x": [value]}}):
        line = orjson.dumps(record).decode()
        assert scan_record(record)
        assert might_hold_secret(line), (kind, line)


def test_line_prefilter_passes_credential_keys_and_skips_clean_lines() -> None:
    assert might_hold_secret(orjson.dumps({"Password": "x"}).decode())
    assert might_hold_secret(orjson.dumps({"aws_secret": "x"}).decode())
    for value in (v for v in BENIGN if "/" not in v):  # paths may pass through: it is only a pre-check
        assert not might_hold_secret(orjson.dumps({"id": 1, "note": value}).decode()), value
