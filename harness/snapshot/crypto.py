"""AES-256-GCM envelope encryption for snapshots (``cryptography``'s AEAD; nothing hand-rolled).

One fresh 256-bit data key per snapshot encrypts every chunk and the manifest body.
Nonces are 96 bits: a 4-byte domain prefix and a 64-bit big-endian counter. Chunks use
domain 1 and their snapshot-wide sequence number (each chunk has a distinct one, checked
on read); the manifest body uses domain 2 and counter 0. A key is never reused across
snapshots, so a (key, nonce) pair never repeats. Associated data binds each chunk to its
file path and index, and the manifest body to the header, so moving, swapping or editing
anything fails authentication. See docs/snapshot-format.md.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.errors import VerificationFailed

FORMAT = "drill-snapshot/1"
CIPHER = "AES-256-GCM"
KEY_BYTES = 32
TAG_BYTES = 16
DOMAIN_CHUNK = b"\x00\x00\x00\x01"
DOMAIN_MANIFEST = b"\x00\x00\x00\x02"
CHUNK_AD_PREFIX = b"drill-snapshot/1 chunk\x00"
MAX_SEQ = 2**64 - 1


class AuthenticationFailed(VerificationFailed):
    """Ciphertext or associated data did not authenticate: edited, truncated, swapped or wrong key."""


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise VerificationFailed(f"{what}: not valid base64") from None


def chunk_nonce(seq: int) -> bytes:
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"chunk sequence number {seq} out of range")
    return DOMAIN_CHUNK + seq.to_bytes(8, "big")


def manifest_nonce() -> bytes:
    return DOMAIN_MANIFEST + bytes(8)


def chunk_ad(path: str, index: int) -> bytes:
    """Associated data of chunk ``index`` (0-based within its file) of ``path``."""
    return CHUNK_AD_PREFIX + path.encode("utf-8") + b"\x00" + index.to_bytes(8, "big")


@dataclass(frozen=True)
class DataKey:
    """A snapshot's plaintext data key. ``repr`` never shows the bytes."""

    material: bytes

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise VerificationFailed(f"data key has {len(self.material)} bytes, expected {KEY_BYTES}")

    def __repr__(self) -> str:
        return "DataKey(<redacted>)"

    def aead(self) -> AESGCM:
        return AESGCM(self.material)


def encrypt_chunk(aead: AESGCM, seq: int, path: str, index: int, plaintext: bytes) -> bytes:
    return aead.encrypt(chunk_nonce(seq), plaintext, chunk_ad(path, index))


def decrypt_chunk(aead: AESGCM, seq: int, path: str, index: int, ciphertext: bytes) -> bytes:
    try:
        return aead.decrypt(chunk_nonce(seq), ciphertext, chunk_ad(path, index))
    except InvalidTag:
        raise AuthenticationFailed(
            f"chunk {index} of {path!r} (sequence {seq}) failed authentication: "
            "its bytes were changed, truncated or swapped with another chunk"
        ) from None


def seal_manifest(key: DataKey, header: dict[str, Any], body: bytes) -> bytes:
    """The sealed manifest object: the header as authenticated JSON text plus the encrypted body."""
    header_text = canonical_json(header).decode("utf-8")
    sealed = key.aead().encrypt(manifest_nonce(), body, header_text.encode("utf-8"))
    envelope = {"format": FORMAT, "header": header_text, "body": b64(sealed)}
    return json.dumps(envelope, indent=1, sort_keys=True).encode("utf-8") + b"\n"


@dataclass(frozen=True)
class Envelope:
    """A parsed (not yet authenticated) sealed manifest."""

    header: dict[str, Any]
    header_bytes: bytes
    body: bytes


def parse_envelope(data: bytes, where: str) -> Envelope:
    """Parse the sealed manifest's outer JSON; the header is only trusted after ``open_manifest``."""
    try:
        outer = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise VerificationFailed(f"{where}: sealed manifest is not valid JSON ({exc})") from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise VerificationFailed(f"{where}: not a {FORMAT} sealed manifest")
    text, body = outer.get("header"), outer.get("body")
    if not isinstance(text, str) or not isinstance(body, str):
        raise VerificationFailed(f"{where}: sealed manifest needs string 'header' and 'body'")
    try:
        header = json.loads(text)
    except ValueError as exc:
        raise VerificationFailed(f"{where}: manifest header is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise VerificationFailed(f"{where}: manifest header format is not {FORMAT}")
    return Envelope(header, text.encode("utf-8"), unb64(body, f"{where}: body"))


def open_manifest(key: DataKey, envelope: Envelope, where: str) -> bytes:
    """Authenticate header and body together and return the plaintext manifest document."""
    try:
        return key.aead().decrypt(manifest_nonce(), envelope.body, envelope.header_bytes)
    except InvalidTag:
        raise AuthenticationFailed(
            f"{where}: manifest failed authentication: its header or body was edited "
            "(or the data key does not belong to this snapshot)"
        ) from None
