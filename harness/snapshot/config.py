"""Snapshot settings: a YAML config file (CLI) or a scenario's ``options`` (lane), both JSON-Schema validated.

Relative paths resolve against the file that holds them. The config names the store, the
key, the AWS endpoint (for S3/KMS), the restore allowlist and the retention policy; the
allowlist can be extended with ``DRILL_RESTORE_ALLOW`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import check, read_yaml
from harness.errors import ConfigError
from harness.snapshot.keys import FileKeys, KeyProvider, KmsKeys
from harness.snapshot.retention import RetentionPolicy
from harness.snapshot.store_base import LockSpec, SnapshotStore

CONFIG_ENV = "DRILL_SNAPSHOT_CONFIG"
ALLOW_ENV = "DRILL_RESTORE_ALLOW"
_SCHEMAS = ("snapshot-config.schema.json", "snapshot-options.schema.json")


def validate(data: Any, schema_name: str, where: str, root: str | None = None) -> dict[str, Any]:
    """Validate ``data`` against a packaged snapshot schema; errors name ``where`` and the setting
    (under ``root``, e.g. ``options`` for a scenario)."""
    check(data, schema_name, where, root=root, shared=_SCHEMAS)
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class SnapshotConfig:
    where: str  # the file (and key) the settings came from, for messages
    base: Path  # relative paths resolve against this directory
    data: dict[str, Any]

    def path(self, text: str) -> Path:
        return (self.base / os.path.expanduser(text)).resolve()

    def section(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        assert isinstance(value, dict)
        return value

    def required(self, key: str, example: str) -> dict[str, Any]:
        """A section that must be present (ConfigError naming the file and an example if not)."""
        value = self.section(key)
        if not value:
            raise ConfigError(f"{self.where}: no {key} configured ({key}: {example})")
        return value

    def needs_aws(self) -> bool:
        return self.section("store").get("type") == "s3" or self.section("key").get("type") == "kms"

    def aws_provider(self) -> str:
        return str(self.section("aws").get("provider", "aws"))

    @contextlib.contextmanager
    def endpoint(self) -> Iterator[Any]:
        """The AWS endpoint (started if embedded, stopped on exit), or None when not needed."""
        if not self.needs_aws():
            yield None
            return
        from harness.aws.providers import aws_endpoint

        aws = self.section("aws")
        with aws_endpoint(self.aws_provider(), region=aws.get("region"), url=aws.get("endpoint_url")) as ep:
            yield ep

    def store(self, endpoint: Any, work_dir: Path | None = None) -> SnapshotStore:
        spec = self.required("store", "{type: local, path: DIR} or --store")
        if spec["type"] == "local":
            from harness.snapshot.store_local import DirStore

            return DirStore(self.path(spec["path"]))
        if spec["type"] == "targz":
            from harness.snapshot.store_targz import TarGzStore

            return TarGzStore(self.path(spec["path"]), work_dir)
        from harness.snapshot.store_s3 import S3Store

        return S3Store(endpoint, spec["bucket"], spec.get("prefix", ""))

    def lock(self) -> LockSpec | None:
        lock = self.section("store").get("object_lock")
        return LockSpec(lock["mode"], lock["days"]) if lock else None

    def keys(self, endpoint: Any) -> KeyProvider:
        spec = self.required("key", "{type: keyfile, path: FILE} or --key-file")
        if spec["type"] == "keyfile":
            return FileKeys(self.path(spec["path"]))
        return KmsKeys(endpoint, spec["key_id"])

    def allow(self) -> list[Path]:
        paths = [self.path(p) for p in self.section("restore").get("allow", [])]
        extra = os.environ.get(ALLOW_ENV, "")
        return paths + [Path(p).resolve() for p in extra.split(os.pathsep) if p]

    def retention(self) -> RetentionPolicy | None:
        data = self.section("retention")
        return RetentionPolicy.from_dict(data, self.where) if data else None


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> SnapshotConfig:
    """The config file (``--config``, else ``$DRILL_SNAPSHOT_CONFIG``, else none) with CLI overrides."""
    chosen = path or os.environ.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    where, base = "command line", Path.cwd()
    if chosen:
        file = Path(chosen).resolve()
        loaded, _ = read_yaml(file, "snapshot config")
        data = validate(loaded if loaded is not None else {}, "snapshot-config.schema.json", str(file))
        where, base = str(file), file.parent
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    validate(data, "snapshot-config.schema.json", where)
    return SnapshotConfig(where, base, data)
