"""Secret scanner: finds credentials that slipped past redaction, never echoes them.

Everything that runs on untrusted text is linear-time: the shapes are one RE2 alternation
(``google-re2``, no backtracking), field names are tokenised by a single pass.

* **Shapes**: AWS access key ids, AWS secret keys next to a ``secret`` label, JWTs, password
  hashes (bcrypt, argon2, pbkdf2, scrypt, crypt ``$5$``/``$6$``), signed URLs (S3, GCS, legacy
  S3, Azure SAS), PEM private keys, GitHub/Slack/Stripe/Google tokens.
* **Entropy**: long token-like runs that mix upper case, lower case and digits, with exemptions for
  what an export legitimately carries (hex digests, UUIDs, slugs, paths split at ``/``); a run
  joined to a UUID is judged without it.
* **Field names**: a non-empty string or number under a credential-like name (``password``,
  ``hashedPassword``, ``pwd``, ``pass_hash``, ``api-key``, ``AccessToken``, ``client_secret``…) is
  reported whatever it looks like. Names are compared as tokens (camelCase, any separator, any
  case); a name ending in a metadata word (``password_changed_at``, ``secret_name``) is not one.
* **Keys**: object keys are scanned like values (a secret used as a key); a path never shows a key
  that looks like a secret (``<key>`` stands in for it).

Records are scanned as decoded JSON, so ``\\u`` escapes cannot hide a secret. The line pre-filter
:func:`might_hold_secret` looks at the raw JSONL line and returns False only when
:func:`scan_record` of the decoded record would find nothing (tests/test_secrets.py proves it with
property tests over encodings and escapes), so clean records skip the per-field scan.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import re2

__all__ = [
    "CREDENTIAL_WORDS",
    "SecretHit",
    "credential_name",
    "lines_that_might_hold_secrets",
    "might_hold_secret",
    "name_tokens",
    "safe_key",
    "scan_record",
    "scan_text",
    "shannon_entropy",
    "shown_key",
]

#: Credential words found inside longer tokens too (``userpassword``, ``dbpasswd``).
CREDENTIAL_STEMS = ("password", "passwd", "passphrase", "passcode")
#: A field-name token that makes the field a credential on its own (the stems among them).
CREDENTIAL_WORDS = frozenset({"pwd", "secret", "credential", "credentials", "cookie", *CREDENTIAL_STEMS})
#: Adjacent token pairs that make a credential (``access_token``, ``apiKey``, ``private-key``…).
CREDENTIAL_PAIRS = frozenset(
    {(q, "token") for q in ("access", "refresh", "session", "auth", "bearer", "id", "oauth", "oauth2", "api")}
    | {(q, "token") for q in ("csrf", "xsrf", "github", "slack", "personal", "reset", "login")}
    | {("api", "key"), ("private", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key")}
    | {("pass", "hash"), ("pass", "word"), ("pass", "phrase"), ("pass", "code"), ("auth", "key")}
)
#: A token that is one of the pairs written as one word (``apikey``, ``accesstoken``, ``passhash``).
CREDENTIAL_COMPOUNDS = frozenset(a + b for a, b in CREDENTIAL_PAIRS)
#: A last token that marks metadata about a credential, not the credential itself.
METADATA_WORDS = frozenset(
    {"at", "on", "date", "time", "timestamp", "ts", "count", "length", "len", "size", "type", "kind"}
    | {"id", "ids", "version", "expires", "expiry", "expiration", "ttl", "days", "hours", "minutes"}
    | {"seconds", "policy", "required", "enabled", "disabled", "algorithm", "algo", "format"}
    | {"strength", "rotated", "changed", "updated", "created", "set", "reset", "name", "arn", "ref"}
    | {"provider", "source", "status", "state", "mode", "scheme", "rules", "min", "max"}
)

_SHAPES: dict[str, str] = {
    "aws_access_key_id": r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    "aws_secret_access_key": (
        r"(?i:secret)[\w\"' ]{0,24}[:=]\s*[\"']?[A-Za-z0-9+/]{40}(?:[^A-Za-z0-9+/=]|$)"
    ),
    "jwt": r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    "bcrypt_hash": r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}",
    "argon2_hash": r"\$argon2(?:id|i|d)\$[^\s]{20,}",
    "pbkdf2_hash": r"(?:\bpbkdf2_sha\d+\$\d+\$|\$pbkdf2(?:-sha\d+)?\$\d+\$)[^\s]{8,}",
    "scrypt_hash": r"(?:\$scrypt\$|\bscrypt:\d+:\d+:\d+\$)[^\s]{8,}",
    "crypt_hash": r"\$[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,}",
    "signed_url": (
        r"[?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token"
        r"|X-Goog-Signature|X-Goog-Credential)=[^&\s]+"
        r"|[?&]Signature=[^&\s]+[^\s]*[?&]Expires=\d+"
        r"|[?&]Expires=\d+[^\s]*[?&]Signature=[^&\s]+"
        r"|[?&]sig=[^&\s]{16,}[^\s]*[?&]se=[^&\s]+"
        r"|[?&]se=[^&\s]+[^\s]*[?&]sig=[^&\s]{16,}"
    ),
    "private_key": r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "stripe_key": r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
}
_KINDS = tuple(_SHAPES)
_SHAPE_RE = re2.compile("|".join(f"({rx})" for rx in _SHAPES.values()))

# Long runs of token characters; "/" is included so base64 stays whole, paths are split below.
_TOKEN_RE = re2.compile(r"[A-Za-z0-9+/_=-]{32,}")
_MIN_TOKEN = 32
_HEX = frozenset("0123456789abcdefABCDEF")
_MIN_SHAPE_LEN = 20
_MIN_ENTROPY = 4.3
_BASE64_40_RE = re2.compile(r"[A-Za-z0-9+/]{40}")
_UUID_RE = re2.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")

# What every shape, and every credential name, needs, checked in one pass over a raw JSONL line.
# JSON escapes nothing these literals are made of, except through "\u" (any character) and "\/"
# (which would join two token runs), so a line holding either always gets the full scan.
_PREFILTER_PARTS = (
    r"\\u",
    r"\\/",
    r"\$",  # bcrypt/argon2/pbkdf2/scrypt/crypt hashes
    r"X-Amz-|X-Goog-|Signature=|Expires=|sig=|se=",  # signed URLs
    r"eyJ|PRIVATE KEY|xox|_live_|_test_|AKIA|ASIA|ABIA|ACCA|AIza",
    r"gh[pousr]_|github_pat_|pbkdf2|scrypt",
    # Credential names (and the "secret" label of an AWS secret key), any case and separator.
    r"(?i:pass|pwd|secret|credential|cookie)|(?i:token)(?:[^s]|$)",
    r"(?i:(?:api|private|signing|encryption|master|auth)[^A-Za-z0-9]*key)",
)
_PREFILTER_RE = re2.compile("|".join(_PREFILTER_PARTS))

# The same for many lines at once (raw bytes): no part can cross a line end, and the token test of
# might_hold_secret (a run of 32+ token characters mixing cases and digits) becomes "32 token
# characters in a row, one of them upper case", so a line that might_hold_secret passes through
# always has a match here. One RE2 pass over a block replaces a pass per line.
_RUN = "[A-Za-z0-9+/_=-]"
_BLOCK_PREFILTER_RE = re2.compile(
    "|".join(
        (
            *(p.replace("[^A-Za-z0-9]", "[^A-Za-z0-9\\n]") for p in _PREFILTER_PARTS),
            *(f"{_RUN}{{{i}}}[A-Z]{_RUN}{{{_MIN_TOKEN - 1 - i}}}" for i in range(_MIN_TOKEN)),
        )
    ).encode()
)


@dataclass(frozen=True, slots=True)
class SecretHit:
    """One suspected secret: where, what kind, how long. Never the value."""

    path: str
    kind: str
    length: int

    def describe(self) -> str:
        return (
            f"possible {self.kind.replace('_', ' ')} in '{self.path}' ({self.length} chars, value withheld)"
        )


def shannon_entropy(token: str) -> float:
    """Bits per character of ``token``'s own character distribution."""
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def _mixed_alphabet(token: str) -> bool:
    """Random tokens mix upper case, lower case and digits; runs that lack one are not secrets."""
    upper = lower = digit = False
    for ch in token:
        if "A" <= ch <= "Z":
            upper = True
        elif "a" <= ch <= "z":
            lower = True
        elif "0" <= ch <= "9":
            digit = True
    return upper and lower and digit


def _wordish(token: str) -> bool:
    """A slug or identifier: a word or a number, then ``-``/``_``-joined alphanumeric parts, no part
    of 20 or more characters; or a relative path (``drills/weekly-20261130T155840Z``) of such."""
    if "/" in token:
        return all(segment and _wordish(segment) for segment in token.split("/"))
    parts = token.replace("_", "-").split("-")
    first = parts[0]
    if not first.isascii() or not (first.isalpha() or first.isdigit()):
        return False
    return all(part.isascii() and part.isalnum() and len(part) < 20 for part in parts)


def _exempt(token: str) -> bool:
    """Long strings an export carries legitimately: digests, ids, slugs."""
    stripped = token.strip("=-_")
    if stripped and all(ch in _HEX for ch in stripped):
        return True
    return _wordish(token) or not _mixed_alphabet(token)


def _pieces(text: str) -> Iterator[str]:
    """The runs the entropy check judges, each of 32 characters or more: token runs, split at "/"
    in paths and around UUIDs (an id is no secret, but what is joined to one still counts)."""
    path_like = "://" in text or text.startswith(("/", "./", "../"))
    for token in _TOKEN_RE.findall(text):
        for part in token.split("/") if path_like else (token,):
            pieces = _UUID_RE.split(part)
            if len(pieces) > 1:
                pieces = [p.strip("-_") for p in pieces]
            yield from (p for p in pieces if len(p) >= _MIN_TOKEN)


def _high_entropy(text: str) -> Iterator[str]:
    for piece in _pieces(text):
        if not _exempt(piece) and shannon_entropy(piece) >= _MIN_ENTROPY:
            yield piece


def _find(text: str) -> tuple[str, int] | None:
    if len(text) < _MIN_SHAPE_LEN:
        return None
    match = _SHAPE_RE.search(text)
    if match is not None:
        groups = match.groups()
        index = next(i for i, g in enumerate(groups) if g is not None)
        return _KINDS[index], len(match.group())
    for token in _high_entropy(text):
        return "high_entropy_token", len(token)
    return None


def scan_text(value: str) -> str | None:
    """The kind of the first secret found in ``value``, or None."""
    found = _find(value)
    return found[0] if found else None


def name_tokens(name: str) -> tuple[str, ...]:
    """A field name as lower-case word tokens: split at every non-alphanumeric character and at
    camelCase boundaries; digits stay with the word before them (``hashedPassword`` -> hashed,
    password; ``APIKey`` -> api, key; ``oauth2Token`` -> oauth2, token; ``pass_hash`` -> pass, hash)."""
    tokens: list[str] = []
    word = ""
    for i, ch in enumerate(name):
        if not ch.isascii() or not ch.isalnum():
            if word:
                tokens.append(word)
            word = ""
            continue
        if word:
            prev = name[i - 1]
            nxt = name[i + 1] if i + 1 < len(name) else ""
            boundary = ch.isupper() and (
                prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower())
            )
            if boundary:
                tokens.append(word)
                word = ""
        word += ch
    if word:
        tokens.append(word)
    return tuple(t.lower() for t in tokens)


@functools.lru_cache(maxsize=4096)
def credential_name(name: str) -> bool:
    """Whether a field called ``name`` holds a credential by definition (see the module docstring)."""
    tokens = name_tokens(name)
    if not tokens or tokens[-1] in METADATA_WORDS:
        return False
    if CREDENTIAL_WORDS.intersection(tokens):
        return True
    if any(pair in CREDENTIAL_PAIRS for pair in itertools.pairwise(tokens)):
        return True
    if CREDENTIAL_COMPOUNDS.intersection(tokens):
        return True
    return any(stem in token for token in tokens for stem in CREDENTIAL_STEMS)


def _secret_label(name: str) -> bool:
    """The field's name says "secret" (the label an AWS secret access key usually carries)."""
    return "secret" in name.lower()


def might_hold_secret(line: str) -> bool:
    """Cheap pre-check over a whole JSONL line: False only if :func:`scan_record` would find
    nothing in the record it encodes, so clean records skip the per-field scan."""
    if _PREFILTER_RE.search(line):
        return True
    return any(_mixed_alphabet(run) and not all(ch in _HEX for ch in run) for run in _TOKEN_RE.findall(line))


def lines_that_might_hold_secrets(body: bytes) -> Iterator[int]:
    """Indices of the lines of ``body`` (LF-separated raw JSONL) that :func:`might_hold_secret`
    could pass through (a superset of them: the caller asks it about each one)."""
    search, find = _BLOCK_PREFILTER_RE.search, body.find
    pos, index = 0, 0
    while (match := search(body, pos)) is not None:
        start = match.start()
        index += body.count(b"\n", pos, start)
        yield index
        pos = find(b"\n", start) + 1
        if not pos:
            return
        index += 1


#: Keys longer than this are shown by their length only.
MAX_SHOWN_KEY = 64


def shown_key(key: str, found: tuple[str, int] | None) -> str:
    """How a path shows ``key``: as written, or ``<key>`` when it looks like a secret, or by its
    length when it is too long to be a field name."""
    if found is not None:
        return "<key>"
    return key if len(key) <= MAX_SHOWN_KEY else f"<key, {len(key)} chars>"


def _walk(
    value: Any,
    path: str,
    bare: str,
    under_credential: bool,
    hits: list[SecretHit],
    allowed: tuple[str, ...],
    credential_key: Callable[[str], bool] = credential_name,
) -> Iterator[tuple[str, str, str, Any, bool]]:
    """Yield (path, path-without-indices, leaf key, scalar value, under a credential name) for every
    string or number leaf; report object keys that look like secrets into ``hits``."""
    if isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            found = _find(key)
            shown = shown_key(key, found)
            shown_path = f"{path}.{shown}" if path else shown
            shown_bare = f"{bare}.{shown}" if bare else shown
            if shown_bare in allowed:  # every level is checked, so a match skips the whole subtree
                continue
            if found is not None:
                hits.append(SecretHit(shown_path, f"{found[0]}_in_key", found[1]))
            credential = under_credential or credential_key(key)
            if isinstance(item, dict | list):
                yield from _walk(item, shown_path, shown_bare, credential, hits, allowed, credential_key)
            else:
                yield shown_path, shown_bare, key, item, credential
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict | list):
                yield from _walk(item, f"{path}[{i}]", bare, under_credential, hits, allowed, credential_key)
            else:
                yield f"{path}[{i}]", bare, bare.rsplit(".", 1)[-1], item, under_credential


def safe_key(key: str) -> str:
    """``key`` as a path may show it (see :func:`shown_key`)."""
    return shown_key(key, _find(key))


def scan_record(
    record: dict[str, Any],
    *,
    allow_fields: Iterable[str] = (),
    key_pattern: Any = None,
    value_pattern: Any = None,
) -> list[SecretHit]:
    """Every suspected secret in ``record``; ``allow_fields`` (dotted, no indices) are skipped.

    ``key_pattern`` / ``value_pattern`` (compiled RE2) are an application's own secrets, added to
    the built-in rules: a key they match is a credential field, a value they match a secret."""
    allowed = tuple(allow_fields)
    hits: list[SecretHit] = []
    if key_pattern is None:
        credential_key: Callable[[str], bool] = credential_name
    else:
        search = key_pattern.search

        def credential_key(key: str) -> bool:
            return credential_name(key) or search(key) is not None

    for path, _bare, key, value, credential in _walk(record, "", "", False, hits, allowed, credential_key):
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            if credential:
                hits.append(SecretHit(path, "credential_field", len(str(value))))
            continue
        if not isinstance(value, str):
            continue
        if credential and _secret_label(key) and _BASE64_40_RE.fullmatch(value):
            hits.append(SecretHit(path, "aws_secret_access_key", len(value)))
            continue
        if credential and value:
            hits.append(SecretHit(path, "credential_field", len(value)))
            continue
        if _secret_label(key) and _BASE64_40_RE.fullmatch(value):
            hits.append(SecretHit(path, "aws_secret_access_key", len(value)))
            continue
        found = _find(value)
        if found is not None:
            hits.append(SecretHit(path, found[0], found[1]))
        elif value_pattern is not None and value_pattern.search(value) is not None:
            hits.append(SecretHit(path, "application_secret", len(value)))
    return hits
