"""Secret scanner: finds credentials that slipped past redaction, never echoes them.

Two layers, both cheap on ordinary prose:

* a single pass of a combined regular expression for secrets with a recognisable shape
  (AWS access key ids, JWTs, password hashes, signed URLs, PEM private keys, vendor tokens);
* a high-entropy pass over long token-like runs, with exemptions for the long strings an
  export legitimately carries (UUIDs, hex digests, ``sha256:`` checksums, timestamps, paths).

Field names matter too: a non-empty string under a key such as ``password_hash`` or
``api_key`` is reported whatever it looks like. Hits carry the field path, the kind and the
length of the matched value — never the value itself.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["PASSWORD_KEYS", "SecretHit", "scan_record", "scan_text"]

#: Field names whose non-empty string values are secrets by definition.
PASSWORD_KEYS = frozenset(
    {
        "password",
        "password_hash",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "session_token",
        "private_key",
        "client_secret",
        "secret_access_key",
        "aws_secret_access_key",
    }
)

_SHAPES: dict[str, str] = {
    "aws_access_key_id": r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
    "aws_secret_access_key": (r"(?i:secret)[\w\"' ]{0,24}[:=]\s*[\"']?[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])"),
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
_SHAPE_RE = re.compile("|".join(f"(?P<{kind}>{rx})" for kind, rx in _SHAPES.items()))

# Long runs of token characters; "/" is included so base64 stays whole, paths are split below.
_TOKEN_RE = re.compile(r"[A-Za-z0-9+/_=-]{32,}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_WORDISH_RE = re.compile(r"(?:[A-Za-z]+|\d+)(?:[-_][A-Za-z0-9]+)*")
_BASE64_40_RE = re.compile(r"[A-Za-z0-9+/]{40}")
_UPPER_RE, _LOWER_RE, _DIGIT_RE = re.compile("[A-Z]"), re.compile("[a-z]"), re.compile("[0-9]")
_MIN_SHAPE_LEN = 20

# What every shape above needs, checked cheaply over a whole JSONL line (JSON never escapes these
# characters): "$" (bcrypt/argon2/pbkdf2/scrypt/crypt hashes), "=" (signed URL parameters),
# a few literal prefixes and two regexes with a literal first character. Key names are
# checked lower-cased.
_SHAPE_LITERALS = ("$", "=", "eyJ", "PRIVATE KEY", "xox", "_live_", "_test_")
_SHAPE_PREFIX_RES = (re.compile("A(?:KIA|SIA|BIA|CCA|Iza)"), re.compile("gh[pousr]_|github_pat_"))
_KEY_TRIGGERS = ("secret", "passw", "api_key", "apikey", "_token", "private_key")
_MIN_ENTROPY = 4.3


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


def _exempt(token: str) -> bool:
    """Long strings an export carries legitimately: digests, ids, slugs, timestamps."""
    stripped = token.strip("=-_")
    if _HEX_RE.fullmatch(stripped) or _UUID_RE.search(token):
        return True
    # Slugs and identifiers made of words and numbers joined by - or _.
    if _WORDISH_RE.fullmatch(token) and not any(len(part) >= 20 for part in re.split(r"[-_]", token)):
        return True
    return _exempt_by_alphabet(token)


def _exempt_by_alphabet(token: str) -> bool:
    """Random tokens mix upper case, lower case and digits; runs that lack one are not secrets."""
    return not (_UPPER_RE.search(token) and _LOWER_RE.search(token) and _DIGIT_RE.search(token))


def _high_entropy(text: str) -> Iterator[str]:
    path_like = "://" in text or text.startswith(("/", "./", "../"))
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        pieces = [p for p in token.split("/") if len(p) >= 32] if path_like else [token]
        for piece in pieces:
            if not _exempt(piece) and shannon_entropy(piece) >= _MIN_ENTROPY:
                yield piece


def _find(text: str) -> tuple[str, int] | None:
    if len(text) < _MIN_SHAPE_LEN:
        return None
    match = _SHAPE_RE.search(text)
    if match is not None and match.lastgroup is not None:
        return match.lastgroup, len(match.group())
    for token in _high_entropy(text):
        return "high_entropy_token", len(token)
    return None


def might_hold_secret(line: str) -> bool:
    """Cheap pre-check over a whole JSONL line: False only if :func:`scan_record` would find
    nothing in the record it encodes, so clean records skip the per-field scan."""
    for literal in _SHAPE_LITERALS:
        if literal in line:
            return True
    for prefix_re in _SHAPE_PREFIX_RES:
        if prefix_re.search(line):
            return True
    lowered = line.lower()
    for trigger in _KEY_TRIGGERS:
        if trigger in lowered:
            return True
    for match in _TOKEN_RE.finditer(line):
        run = match.group()
        if not _HEX_RE.fullmatch(run) and not _exempt_by_alphabet(run):
            return True
    return False


def scan_text(value: str) -> str | None:
    """The kind of the first secret found in ``value``, or None."""
    found = _find(value)
    return found[0] if found else None


def _walk(value: Any, path: str, bare: str) -> Iterator[tuple[str, str, str, str]]:
    """Yield (path, path-without-indices, leaf key, string value) for every string leaf."""
    if isinstance(value, str):
        yield path, bare, bare.rsplit(".", 1)[-1], value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(
                item, f"{path}.{key}" if path else str(key), f"{bare}.{key}" if bare else str(key)
            )
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]", bare)


def scan_record(record: dict[str, Any], *, allow_fields: Iterable[str] = ()) -> list[SecretHit]:
    """Every suspected secret in ``record``; ``allow_fields`` (dotted, no indices) are skipped."""
    allowed = tuple(allow_fields)
    hits: list[SecretHit] = []
    for path, bare, key, value in _walk(record, "", ""):
        if allowed and any(bare == a or bare.startswith(a + ".") for a in allowed):
            continue
        lowered = key.lower()
        if lowered in PASSWORD_KEYS and value:
            hits.append(SecretHit(path, "credential_field", len(value)))
            continue
        if "secret" in lowered and _BASE64_40_RE.fullmatch(value):
            hits.append(SecretHit(path, "aws_secret_access_key", len(value)))
            continue
        found = _find(value)
        if found is not None:
            hits.append(SecretHit(path, found[0], found[1]))
    return hits
