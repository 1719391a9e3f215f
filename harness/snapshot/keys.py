"""Data-key wrapping: AWS KMS ``GenerateDataKey``/``Decrypt``, or a local key file for offline use.

Each snapshot gets a fresh 256-bit data key. With KMS, the key comes from
``GenerateDataKey(KeySpec=AES_256)`` with encryption context ``{"drill-snapshot-id": <id>}``
and only the wrapped blob is stored. With a key file, the data key comes from
``os.urandom`` and is wrapped with AES-256-GCM under the file's key-encryption key (random
96-bit nonce, associated data ``drill-snapshot/1 wrap\\0<id>``). Key material is never
printed, logged or written anywhere but the key file itself (mode 0600, created once).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.aws.errors import error_code, translate
from harness.errors import ConfigError, VerificationFailed
from harness.files import write_once
from harness.snapshot.crypto import KEY_BYTES, DataKey, b64, unb64

KEYFILE_FORMAT = "drill-snapshot-keyfile/1"
WRAP_AD_PREFIX = b"drill-snapshot/1 wrap\x00"
CONTEXT_KEY = "drill-snapshot-id"


class KeyProvider(Protocol):
    provider: str

    def key_id(self) -> str: ...

    def new_data_key(self, snapshot: str) -> tuple[DataKey, dict[str, Any]]: ...

    def unwrap(self, wrapped: dict[str, Any], snapshot: str) -> DataKey: ...

    def status(self) -> dict[str, Any]: ...


def _check_provider(keys: KeyProvider, wrapped: dict[str, Any], snapshot: str) -> None:
    if wrapped.get("provider") != keys.provider:
        raise ConfigError(
            f"snapshot {snapshot} was wrapped by {wrapped.get('provider')!r}, not {keys.provider!r}; "
            "configure the matching key"
        )


def _roundtrip(keys: KeyProvider) -> bool:
    """Wrap a fresh data key and unwrap it again (proves the key is usable; shows no material)."""
    probe, info = keys.new_data_key("status-probe")
    return keys.unwrap(info, "status-probe") == probe


# -- key file ---------------------------------------------------------------------------------------------
def keyfile_id(material: bytes) -> str:
    """A public fingerprint of a key-encryption key (never the key itself)."""
    return "kf-" + hashlib.sha256(b"drill-snapshot keyfile id\x00" + material).hexdigest()[:16]


def init_keyfile(path: Path) -> str:
    """Create a new key file (mode 0600, never overwriting one); return its key id."""
    material = os.urandom(KEY_BYTES)
    doc = {"format": KEYFILE_FORMAT, "key_id": keyfile_id(material), "key": b64(material)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{path.parent}: cannot create: {exc.strerror or exc}") from None
    write_once(
        path,
        (json.dumps(doc, indent=1) + "\n").encode(),
        mode=0o600,
        refusal="refusing to overwrite a key file",
    )
    return str(doc["key_id"])


@dataclass
class FileKeys:
    """Wraps data keys with the key-encryption key in a local file."""

    path: Path
    provider: str = "keyfile"

    def _load(self) -> tuple[str, bytes]:
        try:
            st = os.stat(self.path)
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{self.path}: key file not found (create one with `drill snapshot keys init`)"
            ) from None
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read key file: {exc.strerror or exc}") from None
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise ConfigError(
                f"{self.path}: key file is readable by group or others (mode "
                f"{stat.S_IMODE(st.st_mode):o}); chmod 600 it"
            )
        try:
            doc = json.loads(raw)
            material = unb64(doc["key"], str(self.path)) if doc["format"] == KEYFILE_FORMAT else b""
        except (ValueError, KeyError, TypeError, VerificationFailed):
            material = b""
        if not material:
            raise ConfigError(f"{self.path}: not a {KEYFILE_FORMAT} key file")
        if len(material) != KEY_BYTES or doc.get("key_id") != keyfile_id(material):
            raise ConfigError(f"{self.path}: key file is damaged (length or key id does not match)")
        return str(doc["key_id"]), material

    def key_id(self) -> str:
        return self._load()[0]

    def new_data_key(self, snapshot: str) -> tuple[DataKey, dict[str, Any]]:
        kid, kek = self._load()
        data_key, nonce = os.urandom(KEY_BYTES), os.urandom(12)
        wrapped = AESGCM(kek).encrypt(nonce, data_key, WRAP_AD_PREFIX + snapshot.encode("utf-8"))
        info = {
            "provider": self.provider,
            "key_id": kid,
            "wrap_nonce": b64(nonce),
            "wrapped_key": b64(wrapped),
        }
        return DataKey(data_key), info

    def unwrap(self, wrapped: dict[str, Any], snapshot: str) -> DataKey:
        kid, kek = self._load()
        _check_provider(self, wrapped, snapshot)
        if wrapped.get("key_id") != kid:
            raise ConfigError(
                f"snapshot {snapshot} needs key file key id {wrapped.get('key_id')!r}, "
                f"but {self.path} holds {kid!r} (wrong key file)"
            )
        nonce = unb64(str(wrapped.get("wrap_nonce", "")), f"snapshot {snapshot}: wrap_nonce")
        blob = unb64(str(wrapped.get("wrapped_key", "")), f"snapshot {snapshot}: wrapped_key")
        try:
            material = AESGCM(kek).decrypt(nonce, blob, WRAP_AD_PREFIX + snapshot.encode("utf-8"))
        except (InvalidTag, ValueError):
            raise VerificationFailed(
                f"snapshot {snapshot}: the wrapped data key does not unwrap with key file {kid} "
                "(the wrapped key or the snapshot id in the header was changed)"
            ) from None
        return DataKey(material)

    def status(self) -> dict[str, Any]:
        kid, _ = self._load()
        mode = stat.S_IMODE(os.stat(self.path).st_mode)
        return {
            "provider": self.provider,
            "key_id": kid,
            "path": str(self.path),
            "mode": f"{mode:o}",
            "wrap_roundtrip": _roundtrip(self),
        }


# -- KMS ----------------------------------------------------------------------------------------------------
def _kms_error(exc: Exception, action: str, key: str) -> Exception:
    """Name what KMS refused: a changed wrapped key (exit 1) or the wrong/missing key (exit 2)."""
    code = error_code(exc)[0]
    if code:
        if code == "InvalidCiphertextException":
            return VerificationFailed(
                f"KMS {action} with key {key} refused ({code}): the wrapped data key was changed, or "
                "belongs to another snapshot id"
            )
        if code in ("IncorrectKeyException", "AccessDeniedException"):
            return ConfigError(
                f"KMS {action} with key {key} refused ({code}): the data key was wrapped under another "
                "KMS key, or this identity may not use the key (wrong key)"
            )
        if code == "NotFoundException":
            return ConfigError(f"KMS {action}: key {key} not found (missing key; `drill snapshot keys init`)")
    return translate(exc, f"KMS {action} with key {key}")


@dataclass
class KmsKeys:
    """Data keys from AWS KMS (embedded moto, LocalStack or real AWS) through an ``AwsEndpoint``."""

    endpoint: Any  # harness.aws.providers.AwsEndpoint
    key: str  # key id, ARN or alias/…
    provider: str = "kms"

    def _client(self) -> Any:
        return self.endpoint.client("kms")

    def key_id(self) -> str:
        return self.key

    def new_data_key(self, snapshot: str) -> tuple[DataKey, dict[str, Any]]:
        context = {CONTEXT_KEY: snapshot}
        try:
            out = self._client().generate_data_key(
                KeyId=self.key, KeySpec="AES_256", EncryptionContext=context
            )
        except Exception as exc:
            raise _kms_error(exc, "GenerateDataKey", self.key) from None
        info = {
            "provider": self.provider,
            "key_id": str(out["KeyId"]),
            "wrapped_key": b64(out["CiphertextBlob"]),
        }
        return DataKey(bytes(out["Plaintext"])), info

    def unwrap(self, wrapped: dict[str, Any], snapshot: str) -> DataKey:
        """Decrypt with the *configured* key, so KMS refuses a data key wrapped under any other key
        (a manifest forged under someone else's key never authenticates)."""
        _check_provider(self, wrapped, snapshot)
        blob = unb64(str(wrapped.get("wrapped_key", "")), f"snapshot {snapshot}: wrapped_key")
        try:
            out = self._client().decrypt(
                CiphertextBlob=blob, KeyId=self.key, EncryptionContext={CONTEXT_KEY: snapshot}
            )
        except Exception as exc:
            error = _kms_error(exc, "Decrypt", self.key)
            if isinstance(error, ConfigError):
                error = ConfigError(f"snapshot {snapshot} (wrapped under {wrapped.get('key_id')}): {error}")
            raise error from None
        return DataKey(bytes(out["Plaintext"]))

    def status(self) -> dict[str, Any]:
        try:
            meta = self._client().describe_key(KeyId=self.key)["KeyMetadata"]
        except Exception as exc:
            raise _kms_error(exc, "DescribeKey", self.key) from None
        return {
            "provider": self.provider,
            "key_id": meta.get("Arn", self.key),
            "state": meta.get("KeyState"),
            "endpoint": self.endpoint.describe(),
            "wrap_roundtrip": _roundtrip(self),
        }


def ensure_kms_key(endpoint: Any, alias: str) -> str:
    """Create a symmetric KMS key behind ``alias`` unless it exists; return the key ARN."""
    kms = endpoint.client("kms")
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except Exception as exc:
        if error_code(exc)[0] != "NotFoundException":
            raise _kms_error(exc, "DescribeKey", alias) from None
    if not alias.startswith("alias/"):
        raise ConfigError(f"KMS key {alias!r} does not exist (only an alias/… can be created)")
    try:
        meta = kms.create_key(Description="drill-harness snapshot data keys")["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    except Exception as exc:
        raise _kms_error(exc, "CreateKey", alias) from None
    return str(meta["Arn"])
