"""Signed evidence, checked by a DSSE verifier written here from the specs, not by the harness's code.

The verifier below follows the DSSE v1 protocol (PAE, base64 payload, any valid signature), the
in-toto Statement v1 layout, and verifies Ed25519 with the RFC 8032 section 6 reference algorithm
in pure Python; the public key is taken from the PEM by hand (SubjectPublicKeyInfo prefix + 32 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError
from harness.evidence.signing import (
    SignatureProblem,
    envelope_path,
    generate_key,
    load_private_key,
    sign_evidence,
    verify_envelope,
)
from harness.evidence.signing import load_public_key as harness_public_key
from tests.evidence.conftest import KEY_ENV, drill

# -- RFC 8032, 6. Ed25519 Python illustration (verification only) -------------------------------
P = 2**255 - 19
Q = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f, g * h, f * g, e * h)


def _mul(s: int, point: tuple[int, ...]) -> tuple[int, ...]:
    out = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            out = _add(out, point)
        point = _add(point, point)
        s >>= 1
    return out


def _recover_x(y: int, sign: int) -> int | None:
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    return P - x if (x & 1) != sign else x


def _decompress(raw: bytes) -> tuple[int, ...] | None:
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
assert _GX is not None
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decompress(public), _decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= Q:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % Q
    left, right = _mul(s, BASE), _add(r, _mul(h, a))
    return (left[0] * right[2] - right[0] * left[2]) % P == 0 and (
        left[1] * right[2] - right[1] * left[2]
    ) % P == 0


def raw_public(pem: bytes) -> bytes:
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
    der = base64.b64decode(body)
    assert der[:12] == bytes.fromhex("302a300506032b6570032100"), "not an Ed25519 SubjectPublicKeyInfo"
    return der[12:]


def independent_verify(envelope: bytes, evidence: bytes, public_pem: bytes) -> dict[str, Any]:
    """DSSE v1 + in-toto Statement v1 verification from the specs; raises AssertionError on failure."""
    env = json.loads(envelope)
    assert env["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(env["payload"])
    kind = env["payloadType"].encode()
    pae = (
        b"DSSEv1 "
        + str(len(kind)).encode()
        + b" "
        + kind
        + b" "
        + str(len(payload)).encode()
        + b" "
        + payload
    )
    key = raw_public(public_pem)
    assert any(ed25519_verify(key, pae, base64.b64decode(s["sig"])) for s in env["signatures"]), (
        "no valid sig"
    )
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"].startswith("https://")
    digests = [s["digest"]["sha256"] for s in statement["subject"]]
    assert hashlib.sha256(evidence).hexdigest() in digests, "subject digest differs from the evidence bytes"
    return dict(statement)


# -- tests ----------------------------------------------------------------------------------------
@pytest.fixture
def evidence_file(tmp_path: Path, real_docs: dict[str, dict[str, Any]]) -> Path:
    path = tmp_path / "snapshot-20260302T051700Z-0123456789abcdef.json"
    path.write_bytes(json.dumps(real_docs["snapshot"], indent=1).encode() + b"\n")
    return path


def test_keygen_sign_verify_through_the_command_and_the_independent_verifier(
    tmp_path: Path, evidence_file: Path
) -> None:
    made = drill("evidence", "keygen", "--out", str(tmp_path / "keys"))
    assert made.returncode == 0, made.stderr
    key, pub = tmp_path / "keys" / "drill-signing.key", tmp_path / "keys" / "drill-signing.pub"
    assert key.stat().st_mode & 0o777 == 0o600
    signed = drill(
        "evidence", "sign", str(evidence_file), "--key-env", KEY_ENV, env={KEY_ENV: key.read_text()}
    )
    assert signed.returncode == 0, signed.stderr
    assert "PRIVATE" not in signed.stdout + signed.stderr
    envelope = envelope_path(evidence_file).read_bytes()
    statement = independent_verify(envelope, evidence_file.read_bytes(), pub.read_bytes())
    assert statement["subject"][0]["name"] == evidence_file.name
    assert statement["predicate"]["verdict"] == "verified"
    ok = drill("evidence", "verify", str(evidence_file), "--key", str(pub))
    assert ok.returncode == 0 and ok.stdout.startswith("ok "), ok.stdout + ok.stderr


def test_a_signature_from_another_key_fails(evidence_file: Path) -> None:
    mine, _ = generate_key()
    _, theirs = generate_key()
    envelope = sign_evidence(evidence_file.name, evidence_file.read_bytes(), load_private_key(mine, "k"))
    with pytest.raises(AssertionError, match="no valid sig"):
        independent_verify(envelope, evidence_file.read_bytes(), theirs)
    pub = evidence_file.with_name("theirs.pub")
    pub.write_bytes(theirs)
    with pytest.raises(SignatureProblem) as caught:
        verify_envelope(envelope, evidence_file.name, evidence_file.read_bytes(), [harness_public_key(pub)])
    assert caught.value.kind == "foreign-key"


def test_a_changed_payload_breaks_the_signature(evidence_file: Path, keypair: tuple[bytes, Path]) -> None:
    envelope = json.loads(
        sign_evidence(evidence_file.name, evidence_file.read_bytes(), load_private_key(keypair[0], "k"))
    )
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["verdict"] = "failed"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    forged = json.dumps(envelope).encode()
    with pytest.raises(AssertionError):
        independent_verify(forged, evidence_file.read_bytes(), keypair[1].read_bytes())
    with pytest.raises(SignatureProblem) as caught:
        verify_envelope(
            forged, evidence_file.name, evidence_file.read_bytes(), [harness_public_key(keypair[1])]
        )
    assert caught.value.kind == "broken"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_changed_byte_of_the_evidence_is_detected(
    evidence_file: Path, keypair: tuple[bytes, Path], position: int, flip: int
) -> None:
    data = evidence_file.read_bytes()
    envelope = sign_evidence(evidence_file.name, data, load_private_key(keypair[0], "k"))
    changed = bytearray(data)
    changed[position % len(data)] ^= flip
    with pytest.raises(SignatureProblem) as caught:
        verify_envelope(envelope, evidence_file.name, bytes(changed), [harness_public_key(keypair[1])])
    assert caught.value.kind == "subject"
    with pytest.raises(AssertionError, match="subject digest"):
        independent_verify(envelope, bytes(changed), keypair[1].read_bytes())


@pytest.mark.parametrize(
    "value", ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_a_bad_signing_key_is_refused_without_echoing_it(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.evidence.signing import private_key_from_env

    monkeypatch.setenv(KEY_ENV, value)
    with pytest.raises(ConfigError) as caught:
        private_key_from_env(KEY_ENV)
    assert KEY_ENV in str(caught.value)
    assert value.strip() == "" or value.strip() not in str(caught.value)


def test_drill_run_refuses_a_bad_key_before_running(tmp_path: Path) -> None:
    proc = drill(
        "run",
        "scenarios/weekly/snapshot.yaml",
        "--evidence-dir",
        str(tmp_path),
        "--sign-key-env",
        KEY_ENV,
        env={KEY_ENV: "hunter2-not-a-key"},
    )
    assert proc.returncode == 2
    assert "hunter2" not in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("*.json"))
