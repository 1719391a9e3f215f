"""Signed evidence: Ed25519 over the exact evidence bytes, as an in-toto Statement v1 in a DSSE envelope.

The statement's one subject is the evidence file (its name and the sha256 of its bytes, exactly as
written: nothing is re-serialised), the predicate type is :data:`PREDICATE_TYPE`, and the envelope
(https://github.com/secure-systems-lab/dsse, ``payloadType`` :data:`PAYLOAD_TYPE`) is signed over
the DSSE pre-authentication encoding, so cosign/in-toto tooling can check it. Envelopes are written
beside the evidence as ``<stem>.dsse.json``. Keys are PEM (PKCS #8 private, SubjectPublicKeyInfo
public); a key id is the hex sha256 of the raw 32-byte public key. Key material is never printed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.errors import ConfigError

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://drill-harness.dev/attestation/restore-evidence/v1"
ENVELOPE_SUFFIX = ".dsse.json"


class SignatureProblem(Exception):
    """An envelope does not prove its evidence; ``kind`` is malformed, foreign-key, broken or subject."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 SP LEN(type) SP type SP LEN(body) SP body``."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def envelope_path(evidence: Path) -> Path:
    """Where the envelope of ``evidence`` (``<stem>.json``) lives: ``<stem>.dsse.json`` beside it."""
    return evidence.with_name(evidence.name.removesuffix(".json") + ENVELOPE_SUFFIX)


# -- keys -----------------------------------------------------------------------------------------
def generate_key() -> tuple[bytes, bytes]:
    """A new key pair as (private PKCS #8 PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    return (
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def load_private_key(pem: bytes, where: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; ``where`` (a file or variable *name*) is all an error shows."""
    try:
        key = serialization.load_pem_private_key(pem.strip() + b"\n", password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{where}: not an unencrypted PEM private key ({len(pem)} bytes; {type(exc).__name__})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{where}: the key is {type(key).__name__.removeprefix('_')}, not Ed25519")
    return key


def private_key_from_env(variable: str) -> Ed25519PrivateKey:
    """The signing key held (as PEM) in environment variable ``variable``."""
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"--sign-key-env {variable}: the variable is not set or empty")
    return load_private_key(value.encode(), f"environment variable {variable}")


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key file gives its public half)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"PRIVATE KEY" in data:
        return load_private_key(data, str(path)).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ConfigError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: the key is not Ed25519")
    return key


# -- envelopes ------------------------------------------------------------------------------------
def statement(evidence_name: str, evidence_bytes: bytes, doc: dict[str, Any]) -> dict[str, Any]:
    """The in-toto Statement v1 about one evidence file (``doc`` is its parsed content)."""
    previous = doc.get("previous_evidence") or {}
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": evidence_name, "digest": {"sha256": hashlib.sha256(evidence_bytes).hexdigest()}}
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "scenario": doc["scenario"]["name"],
            "lane": doc["scenario"]["lane"],
            "run_id": doc["run_id"],
            "verdict": doc["verdict"],
            "exit_code": doc["exit_code"],
            "finished_at": doc["finished_at"],
            "evidence_format_version": doc["evidence_format_version"],
            "previous_evidence_sha256": previous.get("sha256"),
        },
    }


def sign_evidence(evidence_name: str, evidence_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    """The DSSE envelope (JSON bytes) over the statement about ``evidence_bytes``."""
    try:
        doc = orjson.loads(evidence_bytes)
        body = orjson.dumps(statement(evidence_name, evidence_bytes, doc))
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{evidence_name}: not an evidence document ({type(exc).__name__})") from None
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [
            {
                "keyid": key_id(key.public_key()),
                "sig": base64.b64encode(key.sign(pae(PAYLOAD_TYPE, body))).decode(),
            }
        ],
    }
    return orjson.dumps(envelope, option=orjson.OPT_INDENT_2) + b"\n"


@dataclass(frozen=True)
class Verified:
    """A checked envelope: the key that signed it and the statement it carries."""

    key_id: str
    statement: dict[str, Any]


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise SignatureProblem("malformed", f"{what} is not a string")
    try:
        return base64.b64decode(
            value + "=" * (-len(value) % 4),
            altchars=b"-_" if "-" in value or "_" in value else None,
            validate=True,
        )
    except (binascii.Error, ValueError):
        raise SignatureProblem("malformed", f"{what} is not base64") from None


def verify_envelope(
    envelope_bytes: bytes, evidence_name: str, evidence_bytes: bytes, keys: Sequence[Ed25519PublicKey]
) -> Verified:
    """Check that a trusted key signed a statement whose subject is exactly these evidence bytes."""
    try:
        envelope = orjson.loads(envelope_bytes)
    except orjson.JSONDecodeError:
        raise SignatureProblem("malformed", "the envelope is not JSON") from None
    if not isinstance(envelope, dict) or envelope.get("payloadType") != PAYLOAD_TYPE:
        raise SignatureProblem("malformed", f"the envelope's payloadType is not {PAYLOAD_TYPE}")
    body = _b64(envelope.get("payload"), "payload")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise SignatureProblem("malformed", "the envelope has no signatures")
    trusted = {key_id(k): k for k in keys}
    signed_by: str | None = None
    for entry in signatures:
        if not isinstance(entry, dict):
            raise SignatureProblem("malformed", "a signature entry is not an object")
        sig = _b64(entry.get("sig"), "sig")
        for kid, public in trusted.items():
            try:
                public.verify(sig, pae(PAYLOAD_TYPE, body))
            except InvalidSignature:
                continue
            signed_by = kid
            break
        if signed_by:
            break
    if signed_by is None:
        named = {str(e.get("keyid")) for e in signatures if isinstance(e, dict)}
        if named & trusted.keys():
            raise SignatureProblem("broken", "the signature does not verify: envelope or payload changed")
        raise SignatureProblem("foreign-key", "not signed by a trusted key (key id not among --key)")
    try:
        stmt = orjson.loads(body)
        subject = stmt["subject"]
        ok_type = stmt["_type"] == STATEMENT_TYPE and stmt["predicateType"] == PREDICATE_TYPE
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise SignatureProblem("malformed", "the payload is not an in-toto statement") from None
    if not ok_type or not isinstance(subject, list) or len(subject) != 1:
        raise SignatureProblem("malformed", "the payload is not a drill-harness evidence statement")
    digest = hashlib.sha256(evidence_bytes).hexdigest()
    if subject[0].get("digest", {}).get("sha256") != digest:
        raise SignatureProblem("subject", "the evidence bytes differ from the signed sha256 (edited)")
    if subject[0].get("name") != evidence_name:
        raise SignatureProblem("subject", "the statement names another evidence file")
    return Verified(signed_by, stmt)
