"""The secret scanner on hostile input: every shape and credential name, decoded escapes, object
keys, exact thresholds, linear time on 1 MB adversarial text, and a property test that the line
pre-filter is never weaker than the full scan."""

from __future__ import annotations

import json
import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.secrets import (
    CREDENTIAL_WORDS,
    credential_name,
    might_hold_secret,
    name_tokens,
    scan_record,
    scan_text,
    shannon_entropy,
)
from tests.test_secrets import CASES

# Built by concatenation so the repository itself never holds a scanner-shaped literal.
MORE_SHAPES = [
    ("ASIA" + "IOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("ABIA" + "IOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("ACCA" + "IOSFODNN7EXAMPLE", "aws_access_key_id"),
    ("gho_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "github_token"),
    ("ghs_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "github_token"),
    ("github_pat_" + "11ABCDEFG0123456789_abcdefghijKLMNOP", "github_token"),
    ("$argon2i$" + "v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub", "argon2_hash"),
    ("$argon2d$" + "v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub", "argon2_hash"),
    ("$scrypt$" + "ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q", "scrypt_hash"),
    ("$5$" + "rounds=5000$usesomesillystri$D4IrlXatmP7rx3P3InaxBeoomnAihCKRVQP22JZ6EY4", "crypt_hash"),
    ("$6$" + "saltsalt$" + "qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc", "crypt_hash"),
    ("https://storage.googleapis.com/b/o?X-Goog-Signature=" + "ab" * 20, "signed_url"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Security-Token=" + "IQoJb3JpZ2luX2VjE", "signed_url"),
    ("https://b.s3.amazonaws.com/k?Expires=1700000000&Signature=" + "abcDEF123", "signed_url"),
    ("-----BEGIN " + "OPENSSH PRIVATE KEY-----", "private_key"),
    ("-----BEGIN " + "PGP PRIVATE KEY BLOCK-----", "private_key"),
    ("xoxp-" + "1234567890-abcdefghij", "slack_token"),
    ("rk_test_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe_key"),
]
ALL_SHAPES = CASES + MORE_SHAPES
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
SHAPE_IDS = [f"{kind}-{i}" for i, (_, kind) in enumerate(MORE_SHAPES)]


@pytest.mark.parametrize(
    ("value", "kind"), MORE_SHAPES, ids=[f"{k}-{i}" for i, (_, k) in enumerate(MORE_SHAPES)]
)
def test_every_shape_variant_is_found(value: str, kind: str) -> None:
    assert scan_text(value) == kind
    assert scan_text(f"prefix {value} suffix") == kind
    (hit,) = scan_record({"note": value})
    assert (hit.path, hit.kind) == ("note", kind)


CREDENTIAL_NAMES = [
    "password",
    "Password",
    "PASSWORD",
    "passwd",
    "pwd",
    "userPwd",
    "db_passwd",
    "passphrase",
    "passcode",
    "password_hash",
    "hashed_password",
    "hashedPassword",
    "pass_hash",
    "passHash",
    "pass-word",
    "password2",
    "userpassword",
    "secret",
    "client_secret",
    "clientSecret",
    "aws_secret_access_key",
    "awsSecretAccessKey",
    "S3SecretKey",
    "api_key",
    "apiKey",
    "APIKey",
    "api-key",
    "x-api-key",
    "apikey",
    "ApiKeyValue",
    "access_token",
    "accessToken",
    "AccessToken",
    "accesstoken",
    "refresh_token",
    "session_token",
    "auth_token",
    "bearerToken",
    "id_token",
    "oauth2Token",
    "csrf_token",
    "github_token",
    "reset_token",
    "private_key",
    "privateKey",
    "signing_key",
    "encryption-key",
    "master_key",
    "credentials",
    "db.credential",
    "cookie",
    "session_cookie",
    "api__key",
    "API_KEY",
    "Secret-Access-Key",
]
NOT_CREDENTIAL_NAMES = [
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "token_count",
    "password_changed_at",
    "passwordChangedAt",
    "password_reset_required",
    "secret_name",
    "secret_arn",
    "api_key_id",
    "key_id",
    "passport",
    "compass",
    "bypass",
    "display_name",
    "email",
    "hash",
    "prev_hash",
    "keyboard",
    "monkey",
    "primary_key",
    "sort_key",
    "idempotency_key",
    "secretary",
    "tokenizer_name",
    "access_key_id",
    "",
    "key",
    "token_type",
    "password_expires",
    "cookie_policy",
    "apikeys",
]


@pytest.mark.parametrize("name", CREDENTIAL_NAMES)
def test_credential_names_in_any_case_and_separator(name: str) -> None:
    assert credential_name(name)
    (hit,) = scan_record({name: "plain value"})
    assert (hit.kind, hit.length) == ("credential_field", len("plain value"))
    line = orjson.dumps({"id": 1, name: "plain value"}).decode()
    assert might_hold_secret(line)


@pytest.mark.parametrize("name", NOT_CREDENTIAL_NAMES)
def test_metadata_and_lookalike_names_are_not_credentials(name: str) -> None:
    assert not credential_name(name)
    assert scan_record({name: "plain value"}) == []


@pytest.mark.parametrize("word", sorted(CREDENTIAL_WORDS))
def test_every_credential_word_counts_alone_and_inside_a_name(word: str) -> None:
    assert credential_name(word)
    assert credential_name(f"user_{word}")
    assert not credential_name(f"{word}_changed_at")


def test_name_tokens_split_camel_case_separators_and_keep_digits_with_their_word() -> None:
    assert name_tokens("hashedPassword") == ("hashed", "password")
    assert name_tokens("APIKey") == ("api", "key")
    assert name_tokens("HTTPServerName") == ("http", "server", "name")
    assert name_tokens("oauth2Token") == ("oauth2", "token")
    assert name_tokens("S3SecretKey") == ("s3", "secret", "key")
    assert name_tokens("a--b__c..d  e") == ("a", "b", "c", "d", "e")
    assert name_tokens("ünïcode_key") == ("n", "code", "key")


def test_a_hex_digest_under_a_password_name_is_reported() -> None:
    digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert scan_text(digest) is None  # a digest alone is ordinary
    for name in ("password", "pwd", "pass_hash", "hashedPassword"):
        (hit,) = scan_record({name: digest})
        assert (hit.path, hit.kind) == (name, "credential_field")


def test_credential_names_count_at_any_depth_and_for_everything_below_them() -> None:
    record = {"a": {"b": {"password": "x"}}, "credentials": {"user": "bob", "pin": 1234}, "n": [{"pwd": "y"}]}
    hits = {(h.path, h.kind) for h in scan_record(record)}
    assert hits == {
        ("a.b.password", "credential_field"),
        ("credentials.user", "credential_field"),
        ("credentials.pin", "credential_field"),
        ("n[0].pwd", "credential_field"),
    }


def test_numbers_under_credential_names_are_reported_booleans_and_nulls_are_not() -> None:
    hits = scan_record({"pin_code": 1, "password": 12345678, "api_key": 3.5, "secret": True, "pwd": None})
    assert {(h.path, h.length) for h in hits} == {("password", 8), ("api_key", 3)}
    assert scan_record({"password": ""}) == []


def test_secret_label_with_aws_secret_shape_is_reported_as_that_kind() -> None:
    aws = "wJalrXUtnFEMI/K7MDENG/bPxRfi" + "CYEXAMPLEKEY"
    assert [h.kind for h in scan_record({"SecretKey": aws})] == ["aws_secret_access_key"]
    assert [h.kind for h in scan_record({"secret_value": aws})] == ["aws_secret_access_key"]
    assert [h.kind for h in scan_record({"client_secret": "short"})] == ["credential_field"]


def test_object_keys_are_scanned_and_never_shown() -> None:
    record = {"meta": {GITHUB: {"note": "hello"}}, "ok": 1}
    hits = scan_record(record)
    assert [(h.path, h.kind) for h in hits] == [("meta.<key>", "github_token_in_key")]
    text = json.dumps([h.describe() for h in hits])
    assert GITHUB not in text and GITHUB[4:20] not in text
    assert might_hold_secret(orjson.dumps(record).decode())


def test_a_secret_below_a_secret_key_is_reported_under_the_placeholder() -> None:
    (key_hit, value_hit) = scan_record({GITHUB: {"body": GITHUB}})
    assert key_hit.path == "<key>" and value_hit.path == "<key>.body"


def test_long_keys_are_shown_by_length_only() -> None:
    key = "k" * 300
    (hit,) = scan_record({key: {"password": "x"}})
    assert hit.path == "<key, 300 chars>.password"


def test_allow_fields_apply_to_keys_and_nested_paths() -> None:
    record = {"hash": "x", "meta": {"password": "p"}, "password": "q"}
    assert [h.path for h in scan_record(record, allow_fields=("meta",))] == ["password"]
    assert [h.path for h in scan_record(record, allow_fields=("meta.password", "password"))] == []


def _escape_all(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


def test_unicode_escapes_cannot_hide_a_secret_or_a_credential_name() -> None:
    token = GITHUB
    line = '{"id":1,"note":"' + _escape_all(token[:4]) + token[4:] + '"}'
    assert json.loads(line)["note"] == token
    assert might_hold_secret(line)
    assert [h.kind for h in scan_record(json.loads(line))] == ["github_token"]
    line = '{"id":1,"' + _escape_all("password") + '":"plain"}'
    assert might_hold_secret(line)
    assert [h.path for h in scan_record(json.loads(line))] == ["password"]


def test_escaped_slashes_route_to_the_full_scan() -> None:
    token = "Q7fK2mZp9Lx" + "/V4bNc8RtY3wHs6JdG1eUaB"  # one high-entropy run only with its "/"
    line = '{"id":1,"note":"' + token.replace("/", "\\/") + '"}'
    assert scan_record(json.loads(line))
    assert might_hold_secret(line)


def test_entropy_threshold_and_formula_are_pinned() -> None:
    assert shannon_entropy("aabb") == pytest.approx(1.0)
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert shannon_entropy("aaaa") == 0.0
    # 32 characters, mixed case and digits, either side of the 4.3-bit threshold.
    low = "aaaBB33ccDD44eeFF55ggH6iJ7kL8mN9"  # 4.289 bits
    high = "aaBB33ccDD44eeFF55ggHH6iJ7kL8mN9"  # 4.3125 bits
    assert shannon_entropy(low) == pytest.approx(4.2889, abs=1e-4)
    assert shannon_entropy(high) == pytest.approx(4.3125, abs=1e-4)
    assert scan_text(f"x {low} y") is None
    assert scan_text(f"x {high} y") == "high_entropy_token"


def test_paths_are_split_at_slashes_and_pieces_count_from_32_characters() -> None:
    piece32 = "aaBB33ccDD44eeFF55ggHH6iJ7kL8mN9"
    assert scan_text(f"https://files.example.test/{piece32}/report.pdf") == "high_entropy_token"
    assert scan_text(f"https://files.example.test/{piece32[1:]}/{piece32[1:]}.pdf") is None
    assert scan_text(f"/srv/{piece32}") == "high_entropy_token"


def test_token_run_branch_of_the_prefilter_alone() -> None:
    high = "aB3cD4eF5gH6iJ7kL8mN9oP0" + "aB3cD4eF"
    line = orjson.dumps({"id": 1, "note": high}).decode()
    assert might_hold_secret(line)
    for clean in ("a" * 40, "A" * 40, "1" * 40, "aA" * 20, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4"):
        assert not might_hold_secret(orjson.dumps({"id": 1, "note": clean}).decode()), clean
    assert not might_hold_secret(orjson.dumps({"id": 1, "note": high[:31]}).decode())


@pytest.mark.parametrize(
    "text",
    [
        "?Signature=ab" * 80_000,
        "&se=x" * 200_000,
        "$2b$12$" * 150_000,
        "$argon2id$" * 100_000,
        "eyJ" * 350_000,
        "eyJaaaaaaaa." * 90_000,
        "-----BEGIN " * 100_000,
        "secret=" * 150_000,
        "a" * 1_000_000,
        "aB3" * 350_000,
        "/" * 1_000_000,
        "x-" * 500_000,
        "AKIA" * 250_000,
        "https://a/b?" + "X-Amz-Credential=" * 60_000,
    ],
    ids=lambda t: f"{t[:12]!r}x{len(t)}",
)
def test_every_pattern_is_linear_on_one_megabyte_of_adversarial_text(text: str) -> None:
    """The backtracking signed-URL pattern took minutes on 9 KB; RE2 takes milliseconds on 1 MB.
    The bound is generous (shared CI machines); quadratic behaviour would take minutes."""
    started = time.perf_counter()
    scan_text(text)
    might_hold_secret(text)
    scan_record({"note": text, text[:1000]: 1})
    assert time.perf_counter() - started < 10


# -- property: the pre-filter is never weaker than the full scan -------------------------------------
#: High-entropy runs that are one token only with their "/" (so an escaped "\\/" would split them).
SLASHED = ["Q7fK2mZp9Lx" + "/V4bNc8RtY3wHs6JdG1eUaB", "aB3cD4eF5gH6" + "/iJ7kL8mN9oP0qR1sT2"]
_SECRET_VALUES = st.sampled_from([v for v, _ in ALL_SHAPES] + SLASHED)
_NAMES = st.sampled_from(CREDENTIAL_NAMES + NOT_CREDENTIAL_NAMES + ["id", "note", "meta", "body"])
_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_LEAF = st.one_of(
    _TEXT,
    _SECRET_VALUES,
    st.builds(lambda a, s, b: f"{a}{s}{b}", _TEXT, _SECRET_VALUES, _TEXT),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.none(),
)
_KEY = st.one_of(_NAMES, _TEXT, _SECRET_VALUES)
_RECORD = st.recursive(
    st.dictionaries(_KEY, _LEAF, max_size=4),
    lambda inner: st.dictionaries(
        _KEY, st.one_of(_LEAF, inner, st.lists(st.one_of(_LEAF, inner), max_size=3))
    ),
    max_leaves=12,
)


def _encode(record: object, style: int, draw: st.DrawFn) -> str:
    """The record as one JSONL line the way different writers do it."""
    if style == 0:
        return orjson.dumps(record).decode()
    if style == 1:
        return json.dumps(record, ensure_ascii=True)  # \\uXXXX for every non-ASCII character
    if style == 3:  # PHP's json_encode escapes every "/" (all of them sit inside strings)
        return json.dumps(record, ensure_ascii=False).replace("/", "\\/")
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    # A hostile writer escapes characters that need no escaping, anywhere inside strings.
    out, in_string, i = [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            width = 6 if text[i + 1] == "u" else 2
            out.append(text[i : i + width])
            i += width
            continue
        if ch == '"':
            in_string = not in_string
        elif in_string and draw(st.integers(0, 9)) == 0:
            ch = "\\/" if ch == "/" else f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else ch
        out.append(ch)
        i += 1
    return "".join(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=_RECORD, style=st.integers(0, 3), data=st.data())
def test_prefilter_is_never_weaker_than_the_full_scan(
    record: dict[str, object], style: int, data: st.DataObject
) -> None:
    line = _encode(record, style, data.draw)
    decoded = json.loads(line)
    if scan_record(decoded):
        assert might_hold_secret(line), line
