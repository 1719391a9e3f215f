"""Opening a ledger by its location; the ledger in an S3 prefix: ``<prefix>/<scenario>/<stem>.json``.

Objects are written once (an existing key is refused) with a store-verified SHA-256 and take the
bucket's default Object Lock retention. Besides the hash chain, the store itself can show
tampering: a key with more than one version was overwritten, a delete marker hides a deleted run,
and a bucket or object without Object Lock retention is reported as not immutable. The bucket is
reached through the object store (``harness.objectstore``); credentials come from the standard
boto3 chain (``AWS_ENDPOINT_URL`` points it at another endpoint) and none is ever printed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

from harness.aws.endpoint import DEFAULT_REGION, configured_region
from harness.aws.real import real_aws
from harness.errors import AlreadyExists, ConfigError
from harness.evidence.ledger import DirectoryLedger, Entry, LedgerStore, StoreNote, parse_entry
from harness.evidence.naming import safe_name
from harness.evidence.signing import ENVELOPE_SUFFIX
from harness.objectstore.base import ObjectStore, PutOptions
from harness.objectstore.s3 import S3ObjectStore

#: Every entry goes in once, as JSON; the SHA-256 the store verifies is always sent (``PutOptions``).
_ENTRY = PutOptions(if_absent=True, content_type="application/json")


def chain_store(bucket: str) -> ObjectStore:
    """The bucket through the standard boto3 chain (``AWS_ENDPOINT_URL`` points it elsewhere; region
    from AWS_REGION/AWS_DEFAULT_REGION, else us-east-1), with the endpoint's standard retries."""
    return S3ObjectStore(real_aws(configured_region() or DEFAULT_REGION).client("s3"), bucket)


class S3Ledger:
    """The ledger under ``s3://bucket/prefix``, in ``objects`` (the bucket's object store; by default
    through the standard chain)."""

    def __init__(self, location: str, objects: ObjectStore | None = None) -> None:
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError(f"ledger {location!r}: expected s3://bucket/prefix")
        self.location = location
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.objects = objects or chain_store(bucket)
        self._unlocked: list[StoreNote] = []

    def _dir(self, scenario: str | None) -> str:
        parts = [p for p in (self.prefix, safe_name(scenario) if scenario else "") if p]
        return "/".join(parts) + "/" if parts else ""

    def _what(self, key: str) -> str:
        return f"ledger {self.objects.uri(key)}"

    def _read(self, key: str) -> bytes:
        return b"".join(self.objects.get(key, what=self._what(key)))

    def entries(self, scenario: str | None = None) -> list[Entry]:
        keys = self.objects.list_keys(self._dir(scenario), what=self._what(self._dir(scenario)))
        present = set(keys)
        found = []
        self._unlocked = []
        for key in keys:
            if not key.endswith(".json") or key.endswith(ENVELOPE_SUFFIX):
                continue
            data = self._read(key)
            env_key = key.removesuffix(".json") + ENVELOPE_SUFFIX
            envelope = self._read(env_key) if env_key in present else None
            entry = parse_entry(key.rsplit("/", 1)[-1], data, envelope, self.objects.uri(key))
            if entry is None or (
                scenario is not None and entry.doc is not None and entry.scenario != scenario
            ):
                continue
            head = self.objects.head(key, what=self._what(key))
            if head is None or head.lock.until is None:
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
                self.objects.put(each, body, _ENTRY, what=self._what(each))
            except AlreadyExists:
                raise AlreadyExists(
                    f"{self._what(each)}: already exists; entries are never replaced"
                ) from None
        return self.objects.uri(key)

    def notes(self) -> list[StoreNote]:
        """Overwritten keys, delete markers and missing Object Lock, as the bucket shows them."""
        notes = list(self._unlocked)
        if not self.objects.retention_enabled(what=f"ledger s3://{self.bucket} object lock"):
            notes.append(
                StoreNote("unlocked", "", self.bucket, "the bucket has no Object Lock: runs can be rewritten")
            )
        versions: Counter[str] = Counter()
        deleted: set[str] = set()
        for version in self.objects.versions(self._dir(None), what=self._what(self._dir(None))):
            if not version.delete_marker:
                versions[version.key] += 1
            elif version.latest:
                deleted.add(version.key)
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


def open_ledger(location: str | Path) -> LedgerStore:
    """The ledger at ``location``: ``s3://bucket/prefix`` or a directory."""
    text = str(location)
    if text.startswith("s3://"):
        return S3Ledger(text)
    if "://" in text:
        raise ConfigError(f"ledger {text!r}: expected a directory or s3://bucket/prefix")
    return DirectoryLedger(Path(text))
