"""Opening a ledger by its location; the ledger in an S3 prefix: ``<prefix>/<scenario>/<stem>.json``.

Objects are written once (an existing key is refused) with a store-verified SHA-256 and take the
bucket's default Object Lock retention. Besides the hash chain, the store itself can show
tampering: a key with more than one version was overwritten, a delete marker hides a deleted run,
and a bucket or object without Object Lock retention is reported as not immutable. Credentials come
from the standard boto3 chain (``AWS_ENDPOINT_URL`` points it at another endpoint); none is ever
printed.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from harness.aws.errors import error_code, translate
from harness.errors import AlreadyExists, ConfigError
from harness.evidence.ledger import DirectoryLedger, Entry, LedgerStore, StoreNote, parse_entry
from harness.evidence.naming import safe_name
from harness.evidence.signing import ENVELOPE_SUFFIX

_NO_LOCK = {"ObjectLockConfigurationNotFoundError", "ObjectLockConfigurationNotFound"}


def default_client() -> Any:
    """An S3 client from the standard chain (region from AWS_REGION/AWS_DEFAULT_REGION, else us-east-1)."""
    import boto3
    from botocore.config import Config

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client(
        "s3", region_name=region, config=Config(retries={"max_attempts": 5, "mode": "standard"})
    )


class S3Ledger:
    def __init__(self, location: str, client: Any = None) -> None:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError(f"ledger {location!r}: expected s3://bucket/prefix")
        self.location = location
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.s3 = client or default_client()
        self._unlocked: list[StoreNote] = []

    def _dir(self, scenario: str | None) -> str:
        parts = [p for p in (self.prefix, safe_name(scenario) if scenario else "") if p]
        return "/".join(parts) + "/" if parts else ""

    def _call(self, what: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.s3, method)(Bucket=self.bucket, **kwargs)
        except Exception as exc:
            raise translate(exc, f"ledger s3://{self.bucket}/{what}") from None

    def _keys(self, scenario: str | None) -> list[str]:
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = self._call(self._dir(scenario), "list_objects_v2", Prefix=self._dir(scenario), **token)
            keys += [obj["Key"] for obj in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def entries(self, scenario: str | None = None) -> list[Entry]:
        keys = self._keys(scenario)
        present = set(keys)
        found = []
        self._unlocked = []
        for key in keys:
            if not key.endswith(".json") or key.endswith(ENVELOPE_SUFFIX):
                continue
            obj = self._call(key, "get_object", Key=key)
            data = obj["Body"].read()
            env_key = key.removesuffix(".json") + ENVELOPE_SUFFIX
            envelope = (
                self._call(env_key, "get_object", Key=env_key)["Body"].read() if env_key in present else None
            )
            entry = parse_entry(key.rsplit("/", 1)[-1], data, envelope, f"s3://{self.bucket}/{key}")
            if entry is None or (
                scenario is not None and entry.doc is not None and entry.scenario != scenario
            ):
                continue
            if not obj.get("ObjectLockRetainUntilDate"):
                self._unlocked.append(
                    StoreNote(
                        "unlocked", entry.scenario, entry.name, "the object has no Object Lock retention"
                    )
                )
            found.append(entry)
        return found

    def append(self, name: str, data: bytes, envelope: bytes | None) -> str:
        scenario = str(orjson.loads(data)["scenario"]["name"])
        key = self._dir(scenario) + name
        for each, body in ((key, data), (key.removesuffix(".json") + ENVELOPE_SUFFIX, envelope)):
            if body is None:
                continue
            try:
                self.s3.head_object(Bucket=self.bucket, Key=each)
            except Exception as exc:
                if error_code(exc)[1] != 404:
                    raise translate(exc, f"ledger s3://{self.bucket}/{each}") from None
            else:
                raise AlreadyExists(
                    f"ledger s3://{self.bucket}/{each}: already exists; entries are never replaced"
                )
            self._call(
                each,
                "put_object",
                Key=each,
                Body=body,
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",  # the store verifies it; Object Lock buckets require one
            )
        return f"s3://{self.bucket}/{key}"

    def notes(self) -> list[StoreNote]:
        """Overwritten keys, delete markers and missing Object Lock, as the bucket shows them."""
        notes = list(self._unlocked)
        try:
            config = self.s3.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
            locked = config.get("ObjectLockEnabled") == "Enabled"
        except Exception as exc:
            if error_code(exc)[0] not in _NO_LOCK:
                raise translate(exc, f"ledger s3://{self.bucket} object lock") from None
            locked = False
        if not locked:
            notes.append(
                StoreNote("unlocked", "", self.bucket, "the bucket has no Object Lock: runs can be rewritten")
            )
        versions: Counter[str] = Counter()
        deleted: set[str] = set()
        marker: dict[str, str] = {}
        while True:
            page = self._call(self._dir(None), "list_object_versions", Prefix=self._dir(None), **marker)
            versions.update(v["Key"] for v in page.get("Versions", []))
            deleted.update(m["Key"] for m in page.get("DeleteMarkers", []) if m.get("IsLatest"))
            if not page.get("IsTruncated"):
                break
            marker = {
                "KeyMarker": page["NextKeyMarker"],
                "VersionIdMarker": page.get("NextVersionIdMarker", ""),
            }
        for key, count in sorted(versions.items()):
            scenario, name = self._split(key)
            if key in deleted:
                notes.append(
                    StoreNote("deleted", scenario, name, "the object was deleted (a delete marker hides it)")
                )
            elif count > 1:
                notes.append(
                    StoreNote(
                        "edited", scenario, name, f"the object has {count} versions: it was overwritten"
                    )
                )
        return notes

    def _split(self, key: str) -> tuple[str, str]:
        rest = key[len(self._dir(None)) :]
        scenario, _, name = rest.rpartition("/")
        return scenario, name


def open_ledger(location: str | Path, *, s3_client: Any = None) -> LedgerStore:
    """The ledger at ``location``: ``s3://bucket/prefix`` or a directory."""
    text = str(location)
    if text.startswith("s3://"):
        return S3Ledger(text, s3_client)
    if "://" in text:
        raise ConfigError(f"ledger {text!r}: expected a directory or s3://bucket/prefix")
    return DirectoryLedger(Path(text))
