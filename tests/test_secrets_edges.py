"""The secret scanner's edges, row by row: every alternative of every shape at its exact length limit
and one short of it, the character classes of the entropy check, the exemptions (hex digests, slugs,
paths, UUIDs) and where they stop, and how :func:`scan_record` walks a record (each field reported
with its path, kind and length; nothing after a field is skipped).

Values are built by concatenation so the repository never holds a scanner-shaped literal; failures
show a value's shape (its length), never the value."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import re2

from harness.secrets import (
    credential_name,
    might_hold_secret,
    name_tokens,
    safe_key,
    scan_record,
    scan_text,
    shannon_entropy,
)


class Withheld(str):
    """A test value that shows only its shape in pytest's reports (arguments, assertion
    introspection), never itself."""

    def __repr__(self) -> str:
        return f"<str, {len(self)} chars>"


def W(*parts: str) -> Withheld:
    """The parts joined, as a value that shows only its shape."""
    return Withheld("".join(parts))


def kind_of(*parts: str) -> str | None:
    """scan_text of the joined parts (joined here, so no assertion shows the text)."""
    return scan_text("".join(parts))


def flagged_line(record: dict[str, object]) -> bool:
    return might_hold_secret(orjson.dumps(record).decode())


def triples(
    record: dict[str, Any],
    allow_fields: tuple[str, ...] = (),
    key_pattern: Any = None,
    value_pattern: Any = None,
) -> list[tuple[str, str, int]]:
    """(path, kind, length) of every hit, in order."""
    hits = scan_record(
        record, allow_fields=allow_fields, key_pattern=key_pattern, value_pattern=value_pattern
    )
    return [(h.path, h.kind, h.length) for h in hits]


# -- shapes: each alternative at its limit (found) and one short of it (not that kind) ---------------
B53 = W("R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW")
H43 = W("D4IrlXatmP7rx3P3InaxBeoomnAihCKRVQP22JZ6EY4")
K36 = W("A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8")
X40 = W("AAAAAAAAAA", "aaaaaaaaaa", "0000000000", "++++++++//")  # base64 alphabet, low entropy
JWT_PART = "abcdefgh"

AT_LIMIT = [  # (text before the match, the match, kind)
    ("", "AKIA" + "IOSFODNN7EXAMPL1", "aws_access_key_id"),
    ("", "ASIA" + "IOSFODNN7EXAMPL1", "aws_access_key_id"),
    ("", "ABIA" + "IOSFODNN7EXAMPL1", "aws_access_key_id"),
    ("", "ACCA" + "IOSFODNN7EXAMPL1", "aws_access_key_id"),
    ("", "secret = " + X40, "aws_secret_access_key"),
    ("", "SECRET: '" + X40 + "'", "aws_secret_access_key"),
    ("", 'Secret"="' + X40 + '"', "aws_secret_access_key"),
    ("", "secret" + "_" * 24 + "=" + X40, "aws_secret_access_key"),
    ("", "secret=\t" + X40, "aws_secret_access_key"),
    ("", "eyJ" + JWT_PART + ".eyJ" + JWT_PART + "." + JWT_PART, "jwt"),
    ("", "eyJ" + "ab-_cd12" + ".eyJ" + "AB_-CD34" + "." + "-_-_-_-_", "jwt"),
    ("", "$2a$10$" + B53, "bcrypt_hash"),
    ("", "$2b$12$" + B53, "bcrypt_hash"),
    ("", "$2x$04$" + B53, "bcrypt_hash"),
    ("", "$2y$31$" + B53, "bcrypt_hash"),
    ("", "$2$05$" + B53, "bcrypt_hash"),
    ("", "$argon2id$" + "v=19$m=65536,t=3,p=4", "argon2_hash"),
    ("", "$argon2i$" + "v=19$m=65536,t=3,p=4", "argon2_hash"),
    ("", "$argon2d$" + "v=19$m=65536,t=3,p=4", "argon2_hash"),
    ("", "pbkdf2_sha256$" + "600000$" + "abcdefgh", "pbkdf2_hash"),
    ("", "pbkdf2_sha1$" + "1$" + "abcdefgh" + "xyz", "pbkdf2_hash"),
    ("", "$pbkdf2-sha256$" + "29000$" + "abcdefgh", "pbkdf2_hash"),
    ("", "$pbkdf2$" + "131000$" + "abcdefgh" + "ijklmn", "pbkdf2_hash"),
    ("hash: ", "$scrypt$" + "ln=16,r8", "scrypt_hash"),
    ("", "scrypt:32768:8:1$" + "abcdefgh", "scrypt_hash"),
    ("", "$5$" + "s$" + H43, "crypt_hash"),
    ("", "$6$" + "saltsaltsaltsalt$" + H43, "crypt_hash"),
    ("", "$5$" + "rounds=5000$" + "salt$" + H43, "crypt_hash"),
    ("", "$6$" + "rounds=656000$" + "./Ab$" + H43, "crypt_hash"),
    ("https://b.example/k", "?X-Amz-Signature=" + "a", "signed_url"),
    ("https://b.example/k?a=1", "&X-Amz-Signature=" + "a", "signed_url"),
    ("https://b.example/k", "?X-Amz-Credential=" + "a", "signed_url"),
    ("https://b.example/k?a=1", "&X-Amz-Security-Token=" + "a", "signed_url"),
    ("https://g.example/o", "?X-Goog-Signature=" + "a", "signed_url"),
    ("https://g.example/o?a=1", "&X-Goog-Credential=" + "a", "signed_url"),
    ("https://b.example/k", "?Signature=" + "a" + "&Expires=1", "signed_url"),
    ("https://b.example/k?x=y", "&Signature=" + "a" + "?Expires=1", "signed_url"),
    ("https://b.example/k", "?Expires=1" + "&x=y&Signature=" + "a", "signed_url"),
    ("https://b.example/k?x=y", "&Expires=1" + "?Signature=" + "a", "signed_url"),
    ("https://a.example/c", "?sig=" + "A" * 16 + "&se=1", "signed_url"),
    ("https://a.example/c?x=1", "&sig=" + "A" * 16 + "?se=1", "signed_url"),
    ("https://a.example/c", "?se=1" + "&sv=2&sig=" + "A" * 16, "signed_url"),
    ("https://a.example/c?x=1", "&se=1" + "?sig=" + "A" * 16, "signed_url"),
    ("", "-----BEGIN " + "PRIVATE KEY-----", "private_key"),
    ("", "-----BEGIN " + "RSA PRIVATE KEY-----", "private_key"),
    ("", "-----BEGIN " + "EC PRIVATE KEY-----", "private_key"),
    ("", "-----BEGIN " + "ENCRYPTED PRIVATE KEY-----", "private_key"),
    ("", "-----BEGIN " + "PGP PRIVATE KEY BLOCK-----", "private_key"),
    ("", "ghp_" + K36, "github_token"),
    ("", "gho_" + K36, "github_token"),
    ("", "ghu_" + K36, "github_token"),
    ("", "ghs_" + K36, "github_token"),
    ("", "ghr_" + K36, "github_token"),
    ("", "github_pat_" + "A" * 11 + "_" + "b" * 10, "github_token"),
    ("token: ", "xoxa-" + "1234567890", "slack_token"),
    ("token: ", "xoxb-" + "1234567890", "slack_token"),
    ("token: ", "xoxp-" + "12345-7890", "slack_token"),
    ("token: ", "xoxo-" + "1234567890", "slack_token"),
    ("token: ", "xoxs-" + "1234567890", "slack_token"),
    ("token: ", "xoxr-" + "1234567890", "slack_token"),
    ("", "sk_live_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("", "sk_test_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("", "rk_live_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("", "rk_test_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("", "pk_live_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("", "pk_test_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("", "AIza" + "SyA-1234567890abcdefghijklmnopqrstu", "google_api_key"),
    ("", "AIza" + "_" * 35, "google_api_key"),
    ("", "xoxb-" + "1234567890abcde", "slack_token"),  # exactly 20 characters: the shortest text scanned
    # Each member of a character class carries a row of its own (a class member deleted fails one).
    ("", "secret': '" + X40 + "'", "aws_secret_access_key"),
    ("", "eyJ" + "ABCDEFGH" + ".eyJ" + "abcdefgh" + "." + "ABCD1234", "jwt"),
    ("", "$5$" + "0123$" + H43, "crypt_hash"),
    ("", "$6$" + "salt$" + "." + H43, "crypt_hash"),
    ("", "$6$" + "salt$" + "/" + H43, "crypt_hash"),
    ("", "-----BEGIN " + "PKCS8 PRIVATE KEY-----", "private_key"),
    ("", "github_pat_" + "11AB0CD2EF3" + "_" + "gh4IJ5kl6M", "github_token"),
    ("token: ", "xoxb-" + "ABCDEFGHIJ", "slack_token"),
    ("token: ", "xoxb-" + "abcdefghij", "slack_token"),
]
SHORT_OF_IT = [
    ("AKIA" + "IOSFODNN7EXAMPL", "aws_access_key_id"),
    ("AKIA" + "IOSFODNN7EXAMPL12", "aws_access_key_id"),
    ("AKIAIOSFODNN7EXAMP" + "L1x", "aws_access_key_id"),
    ("xAKIA" + "IOSFODNN7EXAMPL1", "aws_access_key_id"),
    ("akia" + "iosfodnn7exampl1", "aws_access_key_id"),
    ("secret = " + X40[:-1], "aws_secret_access_key"),
    ("secret = " + X40 + "A", "aws_secret_access_key"),
    ("secret = " + X40 + "=", "aws_secret_access_key"),
    ("secret" + "_" * 25 + "=" + X40, "aws_secret_access_key"),
    ("secret - " + X40, "aws_secret_access_key"),
    ("eyJ" + JWT_PART[:7] + ".eyJ" + JWT_PART + "." + JWT_PART, "jwt"),
    ("eyJ" + JWT_PART + ".eyJ" + JWT_PART[:7] + "." + JWT_PART, "jwt"),
    ("eyJ" + JWT_PART + ".eyJ" + JWT_PART + "." + JWT_PART[:7], "jwt"),
    ("eyJ" + JWT_PART + ".eyX" + JWT_PART + "." + JWT_PART, "jwt"),
    ("$2b$12$" + B53[:52], "bcrypt_hash"),
    ("$2b$1$" + B53, "bcrypt_hash"),
    ("$2c$12$" + B53, "bcrypt_hash"),
    ("$argon2id$" + "v=19$m=65536,t=3,p=", "argon2_hash"),
    ("$argon2x$" + "v=19$m=65536,t=3,p=4", "argon2_hash"),
    ("$argon2id$" + "v=19$m=65536, t=3,p=4", "argon2_hash"),
    ("pbkdf2_sha256$" + "600000$" + "abcdefg", "pbkdf2_hash"),
    ("xpbkdf2_sha256$" + "600000$" + "abcdefgh", "pbkdf2_hash"),
    ("$pbkdf2-sha256$" + "29000$" + "abcdefg", "pbkdf2_hash"),
    ("$pbkdf2$" + "131000$" + "abc defgh", "pbkdf2_hash"),
    ("$scrypt$" + "ln=16,r" + " abcdefgh", "scrypt_hash"),
    ("scrypt:32768:8:1$" + "abcdefg", "scrypt_hash"),
    ("xscrypt:32768:8:1$" + "abcdefgh", "scrypt_hash"),
    ("$5$" + "s$" + H43[:42], "crypt_hash"),
    ("$6$" + "saltsaltsaltsalt1$" + H43, "crypt_hash"),
    ("$6$" + "$" + H43, "crypt_hash"),
    ("$7$" + "salt$" + H43, "crypt_hash"),
    ("https://b.example/k?X-Amz-Signature=" + "&a=1", "signed_url"),
    ("https://b.example/k#X-Amz-Signature=" + "a", "signed_url"),
    ("https://b.example/k?X-Amz-Signature=" + " later", "signed_url"),
    ("https://b.example/k?Signature=" + "a and later &Expires=1", "signed_url"),
    ("https://b.example/k?Expires=1" + " and later &Signature=a", "signed_url"),
    ("https://a.example/c?sig=" + "A" * 16 + " and later &se=1", "signed_url"),
    ("https://a.example/c?se=1" + " and later &sig=" + "A" * 16, "signed_url"),
    ("https://b.example/k?Signature=" + "a" + "&x=1", "signed_url"),
    ("https://b.example/k?Expires=soon" + "&Signature=" + "a", "signed_url"),
    ("https://a.example/c?sig=" + "A" * 15 + "&se=1", "signed_url"),
    ("https://a.example/c?se=1" + "&sv=2&sig=" + "A" * 15, "signed_url"),
    ("https://a.example/c?sig=" + "A" * 16 + "&sv=2", "signed_url"),
    ("-----BEGIN " + "PUBLIC KEY-----", "private_key"),
    ("-----BEGIN " + "rsa PRIVATE KEY-----", "private_key"),
    ("-----BEGIN " + "PRIVATE KEY BLOB-----", "private_key"),
    ("ghp_" + K36[:35], "github_token"),
    ("ghx_" + K36, "github_token"),
    ("xghp_" + K36, "github_token"),
    ("github_pat_" + "A" * 11 + "_" + "b" * 9, "github_token"),
    ("token: xoxb-" + "123456789", "slack_token"),
    ("token: xoxz-" + "1234567890", "slack_token"),
    ("sk_live_" + "4eC39HqLyjWDarj", "stripe_key"),
    ("sk_prod_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("ak_live_" + "4eC39HqLyjWDarjt", "stripe_key"),
    ("AIza" + "SyA-1234567890abcdefghijklmnopqrst", "google_api_key"),
    ("xoxb-" + "1234567890abcd", "slack_token"),  # 19 characters: too short to be scanned
    # 40 base64 characters, then one more of each class: 41 characters are no AWS secret key.
    ("secret = " + X40 + "a", "aws_secret_access_key"),
    ("secret = " + X40 + "0", "aws_secret_access_key"),
    ("secret = " + X40 + "+", "aws_secret_access_key"),
    ("secret = " + X40 + "/", "aws_secret_access_key"),
    # A signed-URL parameter with an empty value: what follows it ("&...", " ...") is not its value.
    ("https://b.example/k?Signature=" + "&x=1&Expires=1", "signed_url"),
    ("https://b.example/k?Signature=" + " x&Expires=1", "signed_url"),
    ("https://b.example/k?Expires=1&Signature=" + "&x=1", "signed_url"),
    ("https://b.example/k?Expires=1&Signature=" + " later", "signed_url"),
    ("https://a.example/c?sig=" + "&" + "A" * 15 + "&se=1", "signed_url"),
    ("https://a.example/c?sig=" + "A" * 16 + "&se=" + "&x=1", "signed_url"),
    ("https://a.example/c?sig=" + "A" * 16 + "&se=" + " later", "signed_url"),
    ("https://a.example/c?se=" + "&x=1&sig=" + "A" * 16, "signed_url"),
    ("https://a.example/c?se=1&sig=" + "&" + "A" * 15, "signed_url"),
    ("https://a.example/c?se=1&sig=" + " " + "A" * 15, "signed_url"),
]


@pytest.mark.parametrize(
    ("before", "match", "kind"),
    [(b, W(m), k) for b, m, k in AT_LIMIT],
    ids=[f"{k}-{i}" for i, (_, _, k) in enumerate(AT_LIMIT)],
)
def test_each_shape_alternative_is_found_at_its_limit(before: str, match: str, kind: str) -> None:
    assert kind_of(before, match) == kind
    assert kind_of("seen in a note: ", before, match, " (end)") == kind
    assert triples({"note": W(before, match)}) == [("note", kind, len(match))]
    assert flagged_line({"id": 1, "note": W(before, match)})


@pytest.mark.parametrize(
    ("value", "kind"),
    [(W(v), k) for v, k in SHORT_OF_IT],
    ids=[f"not-{k}-{i}" for i, (_, k) in enumerate(SHORT_OF_IT)],
)
def test_one_short_of_a_shape_is_not_that_shape(value: str, kind: str) -> None:
    assert kind_of(value) != kind


def test_a_match_is_reported_by_its_own_length_not_the_fields() -> None:
    assert triples({"note": W("see ghp_", K36, " now")}) == [("note", "github_token", 40)]


# -- the entropy check: which characters count as upper case, lower case and digits ------------------
LOWER, UPPER, DIGITS = "bcdefghijklmnopqrstuvwxy", "BCDEFGHIJKLMNOPQRSTUVWXY", "12345678"
MIXED_RUNS = [  # 32+ distinct characters (5 bits each); each class present through one edge character
    ("upper-A", "A" + LOWER + DIGITS),
    ("upper-Z", "Z" + LOWER + DIGITS),
    ("lower-a", UPPER + "a" + DIGITS),
    ("lower-z", UPPER + "z" + DIGITS),
    ("digit-0", UPPER[:15] + LOWER[:16] + "0"),
    ("digit-9", UPPER[:15] + LOWER[:16] + "9"),
]


UNMIXED_RUNS = [  # as random, but one class missing; its place taken by a neighbouring character
    ("no-lower-underscore", UPPER + "_" + DIGITS),
    ("no-digit-equals", UPPER[:16] + "=" + LOWER[:16]),
    ("no-upper-dash", LOWER + "-" + DIGITS),
    ("no-lower-digits-only", UPPER + DIGITS + "90"),
]


@pytest.mark.parametrize(("name", "run"), [(n, W(r)) for n, r in MIXED_RUNS], ids=[n for n, _ in MIXED_RUNS])
def test_a_random_run_is_found_whichever_edge_character_carries_a_class(name: str, run: str) -> None:
    assert kind_of(run) == "high_entropy_token"
    assert triples({"note": W("x ", run, " y")}) == [("note", "high_entropy_token", len(run))]
    assert flagged_line({"id": 1, "note": run})


@pytest.mark.parametrize(
    ("name", "run"), [(n, W(r)) for n, r in UNMIXED_RUNS], ids=[n for n, _ in UNMIXED_RUNS]
)
def test_a_run_missing_a_character_class_is_no_secret_and_skips_the_full_scan(name: str, run: str) -> None:
    assert kind_of(run) is None
    assert not flagged_line({"id": 1, "note": run})


RUN16, RUN16B = "Q7fK2mZp9LxV4bNc", "aB3cD4eF5gH6iJ7k"


@pytest.mark.parametrize("joint", ["+", "/", "_", "=", "-"])
def test_every_token_character_joins_a_run(joint: str) -> None:
    assert kind_of(RUN16, joint, RUN16B) == "high_entropy_token"
    assert kind_of(RUN16, " ", joint, RUN16B) is None  # two runs of 16 and 17 characters


def test_a_run_counts_from_32_characters() -> None:
    run = W(UPPER[:15], LOWER[:16], "0")
    assert kind_of(run) == "high_entropy_token"
    assert kind_of(run[1:]) is None
    assert not flagged_line({"id": 1, "note": W(run[1:])})


ALPHA20 = "Q7fK2mZp9LxV4bNc8RtY"


def _spread(singles: int) -> str:
    """20 distinct characters, the first ``singles`` once and the rest twice."""
    return ALPHA20[:singles] + "".join(ch * 2 for ch in ALPHA20[singles:])


def test_the_entropy_threshold_is_4_3_bits() -> None:
    below, above = W(_spread(3)), W(_spread(2))  # 4.2905 and 4.3006 bits per character
    assert 4.29 < shannon_entropy(below) < 4.3 < shannon_entropy(above) < 4.301
    assert kind_of(below) is None
    assert kind_of(above) == "high_entropy_token"


def test_entropy_is_bits_per_character() -> None:
    assert shannon_entropy("ab") == 1.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy(ALPHA20[:16] * 2) == 4.0
    assert shannon_entropy("aab") == pytest.approx(0.9182958)


# -- exemptions and where they stop ---------------------------------------------------------------
HEX22 = "0123456789abcdefABCDEF"
MIXED_HEX = W(*(HEX22[(i * 7) % 22] for i in range(44)))  # every hex character twice: 4.46 bits


def test_a_hex_digest_in_mixed_case_is_exempt_but_not_once_a_letter_is_added() -> None:
    assert kind_of(MIXED_HEX) is None
    assert kind_of(MIXED_HEX, "==") is None  # padding around a digest is stripped
    assert kind_of("--", MIXED_HEX, "__") is None
    assert not flagged_line({"id": 1, "note": MIXED_HEX})  # all hex: the pre-filter skips the line
    assert kind_of(MIXED_HEX, "X") == "high_entropy_token"
    assert kind_of("X", MIXED_HEX) == "high_entropy_token"


SLUG_FIRST = "AbCdEfGhIjKlMnOpQr"  # 18 letters
SLUGS = [  # (name, text, found): parts of fewer than 20 characters after a first part that is a word
    ("snake-case", SLUG_FIRST + "_" + "S1t2U3v4W5x6Y7z8B9", None),
    ("kebab-case", SLUG_FIRST + "-" + "S1t2U3v4W5x6Y7z8B9", None),
    ("part-of-19", "Abcdefgh-" + "Q7fK2mZp9LxV4bNc8Rt" + "-Wxyz", None),
    ("part-of-20", "Abcdefgh-" + "Q7fK2mZp9LxV4bNc8RtY" + "-Wxyz", "high_entropy_token"),
    ("first-of-19", "QwErTyUiOpAsDfGhJkL" + "-" + "Ab3Cd5Ef7Gh9Jk2x", None),
    ("first-of-20", "QwErTyUiOpAsDfGhJkLz" + "-" + "Ab3Cd5Ef7Gh9Jk2", "high_entropy_token"),
    ("number-first", "20261123" + "-" + "Q7fK2mZp9LxV4bNc" + "-" + "Rt3Yw8Hs", None),
    ("mixed-first", "Ab1-Cd2-Ef3-Gh4-Ij5-Kl6-Mn7-Op8-Qr9", "high_entropy_token"),
    ("dotted-part", "Abcdefgh-" + "Q7fK2mZp9.LxV4bNc8Rt" + "-Wxyz", None),
]


@pytest.mark.parametrize(
    ("name", "text", "found"), [(n, W(t), f) for n, t, f in SLUGS], ids=[n for n, _, _ in SLUGS]
)
def test_slugs_are_exempt_only_while_every_part_is_short(name: str, text: str, found: str | None) -> None:
    assert kind_of(text) == found


P31 = W("Q7fK2mZp9LxV4bNc8RtY3wHs6JdG1eU")
Q31 = W("aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2u")


@pytest.mark.parametrize("start", ["/", "./", "../", "s3://b/", "https://h.example/"])
def test_paths_are_judged_piece_by_piece(start: str) -> None:
    assert kind_of(start, P31, "/", Q31) is None
    assert kind_of(start, P31, "x/", Q31) == "high_entropy_token"


def test_dashes_around_a_run_without_a_uuid_count_towards_its_length() -> None:
    assert kind_of("_", SECRET32[:31], "-") == "high_entropy_token"  # 33 characters, judged whole
    assert kind_of("_", SECRET32[:29], "-") is None  # 31 characters


def test_outside_a_path_a_slash_joins_one_run() -> None:
    assert kind_of(P31, "/", Q31) == "high_entropy_token"
    assert kind_of("x.", P31, "/", Q31) == "high_entropy_token"


UUID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SECRET32 = W("Q7fK2mZp9LxV4bNc8RtY3wHs6JdG1eUa")
UUID_ROWS = [
    ("uuid", UUID, None),
    ("upper-uuid", UUID.upper(), None),
    ("uuid-in-prose", f"see {UUID} and {UUID.upper()}", None),
    ("uuid-then-words", UUID + "_Quarterly_Planning_Meeting_Notes_2026", None),
    ("uuid-then-31", UUID + "-" + SECRET32[:31], None),
    ("upper-uuid-then-31", UUID.upper() + "-" + SECRET32[:31], None),
    ("uuid-then-secret", UUID + "-" + SECRET32, "high_entropy_token"),
    ("secret-then-uuid", SECRET32 + "_" + UUID, "high_entropy_token"),
    ("between-uuids", UUID + SECRET32 + UUID, "high_entropy_token"),
    ("hex-7-is-no-uuid", SECRET32[:20] + UUID[1:], "high_entropy_token"),  # judged whole
    ("uuid-then-x-31", UUID + "-X" + SECRET32[:31], "high_entropy_token"),  # only "-"/"_" are stripped
    ("uuid-then-dashes-31", UUID + "--_" + SECRET32[:31], None),
]


@pytest.mark.parametrize(
    ("name", "text", "found"), [(n, W(t), f) for n, t, f in UUID_ROWS], ids=[n for n, _, _ in UUID_ROWS]
)
def test_a_uuid_is_no_secret_but_what_is_joined_to_it_still_counts(
    name: str, text: str, found: str | None
) -> None:
    assert kind_of(text) == found
    if found:
        assert flagged_line({"id": 1, "note": text})


# -- object keys and paths ------------------------------------------------------------------------
GITHUB = W("ghp_", K36)


def test_a_secret_key_is_reported_with_its_kind_and_length_and_never_shown() -> None:
    assert triples({GITHUB: 1}) == [("<key>", "github_token_in_key", 40)]
    assert safe_key(GITHUB) == "<key>"
    assert safe_key("displayName") == "displayName"


def test_keys_are_shown_up_to_64_characters() -> None:
    assert triples({"k" * 64: {"password": "x"}}) == [("k" * 64 + ".password", "credential_field", 1)]
    assert triples({"k" * 65: {"password": "x"}}) == [("<key, 65 chars>.password", "credential_field", 1)]
    assert safe_key("k" * 64) == "k" * 64
    assert safe_key("k" * 65) == "<key, 65 chars>"


def test_objects_inside_lists_keep_their_path_credential_and_allow_list() -> None:
    record = {
        "items": [{"note": GITHUB, "body": GITHUB}, [{"body": GITHUB}]],
        "credentials": [{"user": "bob"}, ["pin"]],
    }
    assert triples(record, allow_fields=("items.note",)) == [
        ("items[0].body", "github_token", 40),
        ("items[1][0].body", "github_token", 40),
        ("credentials[0].user", "credential_field", 3),
        ("credentials[1][0]", "credential_field", 3),
    ]
    assert triples(record, allow_fields=("items", "credentials")) == []


def test_an_allowed_path_is_matched_whole_never_by_a_dotted_key() -> None:
    assert triples({"meta.password": "x"}, allow_fields=("meta",)) == [
        ("meta.password", "credential_field", 1)
    ]
    assert triples({"meta": {"password": "x"}}, allow_fields=("meta",)) == []
    assert triples({"meta": {"password": "x"}}, allow_fields=("met",)) == [
        ("meta.password", "credential_field", 1)
    ]


def test_the_application_key_pattern_applies_at_any_depth() -> None:
    own = re2.compile("(?i)^unlock[-_]?code$")
    record = {"unlockCode": "4711", "a": {"unlock_code": "1"}, "items": [{"UNLOCK-CODE": 2}], "code": "x"}
    assert triples(record, key_pattern=own) == [
        ("unlockCode", "credential_field", 4),
        ("a.unlock_code", "credential_field", 1),
        ("items[0].UNLOCK-CODE", "credential_field", 1),
    ]
    assert triples(record) == []


def test_the_application_value_pattern_is_a_secret_of_its_own_kind() -> None:
    own = re2.compile("kvs_live_[0-9a-f]{20}")
    value = W("courier key kvs_live_", "0123456789abcdef0123")
    record = {"note": value, "other": GITHUB, "plain": "kvs_live_0123"}
    assert triples(record, value_pattern=own) == [
        ("note", "application_secret", len(value)),
        ("other", "github_token", 40),  # a built-in kind wins
    ]
    assert triples(record) == [("other", "github_token", 40)]


# -- scan_record: every field is looked at, each branch reports its own kind -----------------------
def test_booleans_nulls_and_numbers_do_not_end_the_scan() -> None:
    record = {"ok": True, "n": None, "count": 3, "ratio": 0.5, "a": GITHUB, "password": "x", "b": GITHUB}
    assert triples(record) == [
        ("a", "github_token", 40),
        ("password", "credential_field", 1),
        ("b", "github_token", 40),
    ]


def test_a_secret_labelled_field_holding_40_base64_characters_is_an_aws_secret() -> None:
    record = {"client_secret": X40, "secret_name": X40, "secretary": X40, "name": X40, "after": GITHUB}
    assert triples(record) == [
        ("client_secret", "aws_secret_access_key", 40),  # a credential name
        ("secret_name", "aws_secret_access_key", 40),  # only the label (the name is metadata)
        ("secretary", "aws_secret_access_key", 40),
        ("after", "github_token", 40),
    ]
    assert triples({"client_secret": W(X40[:-1])}) == [("client_secret", "credential_field", 39)]
    assert triples({"secret_name": W(X40[:-1]), "secret_ref": W(X40, "A")}) == []


def test_the_label_of_a_list_item_is_its_own_fields_name_at_any_depth() -> None:
    assert triples({"a": {"b": {"secret_ids": [X40, "short"]}}}) == [
        ("a.b.secret_ids[0]", "aws_secret_access_key", 40)
    ]
    assert triples({"a": {"secretary": {"vals": [X40]}}, "secretary": {"x": {"vals": [X40]}}}) == []


# -- credential names: every entry of every table, written out (deleting one fails a row) ----------
CREDENTIAL_WORD_NAMES = ["password", "passwd", "pwd", "passphrase", "passcode", "secret"]
CREDENTIAL_WORD_NAMES += ["credential", "credentials", "cookie"]
PAIR_NAMES = ["access_token", "refresh_token", "session_token", "auth_token", "bearer_token", "id_token"]
PAIR_NAMES += ["oauth_token", "oauth2_token", "api_token", "csrf_token", "xsrf_token", "github_token"]
PAIR_NAMES += ["slack_token", "personal_token", "reset_token", "login_token", "api_key", "private_key"]
PAIR_NAMES += ["signing_key", "encryption_key", "master_key", "pass_hash", "pass_word", "pass_phrase"]
PAIR_NAMES += ["pass_code", "auth_key"]
STEM_NAMES = ["userpassword", "dbpasswd", "mypassphrase", "doorpasscode"]
METADATA = ["at", "on", "date", "time", "timestamp", "ts", "count", "length", "len", "size", "type", "kind"]
METADATA += ["id", "ids", "version", "expires", "expiry", "expiration", "ttl", "days", "hours", "minutes"]
METADATA += ["seconds", "policy", "required", "enabled", "disabled", "algorithm", "algo", "format"]
METADATA += ["strength", "rotated", "changed", "updated", "created", "set", "reset", "name", "arn", "ref"]
METADATA += ["provider", "source", "status", "state", "mode", "scheme", "rules", "min", "max"]


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


@pytest.mark.parametrize("word", CREDENTIAL_WORD_NAMES)
def test_each_credential_word_makes_a_credential_alone_first_and_last(word: str) -> None:
    for name in (word, word.upper(), f"user_{word}", f"{word}_value", f"db.{word}", _camel(f"my_{word}")):
        assert credential_name(name), name
        assert triples({name: "x"}) == [(name, "credential_field", 1)]
        assert flagged_line({"id": 1, name: "x"}), name


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_each_credential_pair_counts_split_camel_cased_and_as_one_word(name: str) -> None:
    for form in (name, _camel(name), name.replace("_", "-"), name.replace("_", ""), name.upper()):
        assert credential_name(form), form
        assert flagged_line({"id": 1, form: "x"}), form
    first, second = name.split("_")
    assert not credential_name(f"{first}_x_{second}")  # only adjacent tokens pair


@pytest.mark.parametrize("name", STEM_NAMES)
def test_credential_stems_count_inside_longer_words(name: str) -> None:
    assert credential_name(name) and credential_name(name.capitalize())
    assert flagged_line({"id": 1, name: "x"})


@pytest.mark.parametrize("word", METADATA)
def test_a_last_metadata_word_makes_a_name_about_a_credential(word: str) -> None:
    for name in (f"password_{word}", f"api_key_{word}", _camel(f"client_secret_{word}")):
        assert not credential_name(name), name
        assert triples({name: "x"}) == []
    assert credential_name(f"{word}_password")  # only the last token marks metadata


def test_names_that_only_look_like_credentials_skip_the_full_scan() -> None:
    for name in ("prompt_tokens", "tokens", "keyboard", "monkey", "apiary", "display_name"):
        assert not flagged_line({"id": 1, name: 12}), name


def test_an_upper_case_letter_before_a_final_lower_case_one_starts_a_word() -> None:
    assert name_tokens("DBPw") == ("db", "pw")
    assert name_tokens("ABc") == ("a", "bc")
    assert name_tokens("ABC") == ("abc",)


#: Every literal the line pre-filter looks for (a line holding one always gets the full scan).
PREFILTER_TRIGGERS = ["\\u0041", "\\/", "$", "X-Amz-", "X-Goog-", "Signature=", "Expires=", "sig=", "se="]
PREFILTER_TRIGGERS += [
    "eyJ",
    "PRIVATE KEY",
    "xox",
    "_live_",
    "_test_",
    "AKIA",
    "ASIA",
    "ABIA",
    "ACCA",
    "AIza",
]
PREFILTER_TRIGGERS += [
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "pbkdf2",
    "scrypt",
    "Pass",
    "PWD",
]
PREFILTER_TRIGGERS += [
    "Secret",
    "CREDENTIAL",
    "Cookie",
    "Token",
    "token ",
    "apiKey",
    "private_key",
    "signing-key",
]
PREFILTER_TRIGGERS += ["encryptionKey", "MASTER_KEY", "authkey"]


@pytest.mark.parametrize("trigger", PREFILTER_TRIGGERS)
def test_each_prefilter_trigger_alone_routes_a_line_to_the_full_scan(trigger: str) -> None:
    assert might_hold_secret('{"id":1,"note":"just ' + trigger + ' here"}')


PREFILTER_MISSES = [
    "apiAkey",  # a letter or digit between the two words of a pair is no separator
    "apiakey",
    "api2key",
    "tokens",
    "keyboard",
    "monkey",
    "apiary",
    "a signature",
    "expires soon",
    "akia",
    "github pat",
]


@pytest.mark.parametrize("text", PREFILTER_MISSES)
def test_words_near_a_trigger_skip_the_full_scan(text: str) -> None:
    assert not might_hold_secret('{"id":1,"note":"just ' + text + ' here"}')


def test_a_line_ending_in_token_is_routed_to_the_full_scan() -> None:
    assert might_hold_secret("session token")
    assert not might_hold_secret("session tokens")


def test_a_value_of_another_type_is_skipped_and_the_scan_goes_on() -> None:
    assert triples({"blob": b"x", "when": object(), "note": GITHUB}) == [("note", "github_token", 40)]
