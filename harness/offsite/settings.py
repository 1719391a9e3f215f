"""Offsite settings from a scenario's ``options.offsite`` (schema: ``offsite-options.schema.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import check, read_yaml
from harness.errors import ConfigError
from harness.objectstore.base import Multipart
from harness.offsite.keys import check_label, check_prefix

SCHEMA = "offsite-options.schema.json"
MIB = 1024 * 1024


@dataclass(frozen=True)
class AwsSettings:
    provider: str = "embedded"
    region: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True)
class ObjectLock:
    mode: str
    days: int


@dataclass(frozen=True)
class StorageSpec:
    """How the harness creates a drill bucket: the way production should have it."""

    encryption: str = "aws:kms"
    kms_key: str | None = None
    versioning: bool = True
    public_access_block: bool = True
    noncurrent_version_days: int | None = 90
    abort_incomplete_multipart_days: int | None = 7
    tags: dict[str, str] = field(default_factory=lambda: {"backup": "daily"})
    object_lock: ObjectLock | None = None


@dataclass(frozen=True)
class PosturePolicy:
    """What the live bucket must show. ``None``/empty means "not required"."""

    warn_only: bool = False
    encryption: tuple[str, ...] = ("AES256", "aws:kms")
    versioning: bool = True
    public_access_block: bool = True
    noncurrent_version_max_days: int | None = 365
    abort_incomplete_multipart_max_days: int | None = 7
    tags: dict[str, str] = field(default_factory=lambda: {"backup": "*"})
    object_lock_modes: tuple[str, ...] = ()
    object_lock_min_days: int | None = None

    @property
    def object_lock_required(self) -> bool:
        return bool(self.object_lock_modes) or self.object_lock_min_days is not None


@dataclass(frozen=True)
class TransferSettings:
    sse: str | None = None
    kms_key: str | None = None
    multipart_threshold: int = 64 * MIB
    part_size: int = 16 * MIB
    max_concurrency: int = 4
    max_attempts: int = 5

    @property
    def multipart(self) -> Multipart:
        return Multipart(self.multipart_threshold, self.part_size, self.max_concurrency)


@dataclass(frozen=True)
class OffsiteSettings:
    bucket: str
    name: str
    environment: str
    prefix: str = "drills"
    aws: AwsSettings = field(default_factory=AwsSettings)
    provision: bool | None = None
    storage: StorageSpec = field(default_factory=StorageSpec)
    posture: PosturePolicy = field(default_factory=PosturePolicy)
    transfer: TransferSettings = field(default_factory=TransferSettings)

    def should_provision(self, provider: str) -> bool:
        if self.provision and provider == "aws":
            raise ConfigError(
                "options.offsite.provision: the harness never creates buckets in real AWS; declare the "
                "bucket in infrastructure code and let the posture check verify it"
            )
        return provider != "aws" if self.provision is None else self.provision


def posture_policy(raw: dict[str, Any] | None) -> PosturePolicy:
    """A policy from its scenario/YAML form (already schema-valid)."""
    raw = raw or {}
    lifecycle = raw.get("lifecycle", {})
    lifecycle = {} if lifecycle is None else lifecycle
    raw_lock = raw.get("object_lock")
    lock_required = isinstance(raw_lock, dict)  # {} = any mode, at least a day; null/false = not required
    lock: dict[str, Any] = raw_lock if isinstance(raw_lock, dict) else {}
    defaults = PosturePolicy()
    return PosturePolicy(
        warn_only=raw.get("mode", "enforce") == "warn-only",
        encryption=tuple(raw.get("encryption", defaults.encryption)),
        versioning=raw.get("versioning", True),
        public_access_block=raw.get("public_access_block", True),
        noncurrent_version_max_days=(
            None
            if lifecycle is False
            else lifecycle.get("noncurrent_version_expiration_max_days", defaults.noncurrent_version_max_days)
        ),
        abort_incomplete_multipart_max_days=(
            None
            if lifecycle is False
            else lifecycle.get(
                "abort_incomplete_multipart_max_days", defaults.abort_incomplete_multipart_max_days
            )
        ),
        tags=dict(raw.get("tags", defaults.tags)),
        object_lock_modes=tuple(lock.get("modes", ("GOVERNANCE", "COMPLIANCE") if lock_required else ())),
        object_lock_min_days=lock.get("min_days", 1 if lock_required else None),
    )


def load_policy_file(path: Path) -> PosturePolicy:
    """A posture policy from a YAML file: either ``posture: {...}`` or the mapping itself."""
    data, _ = read_yaml(Path(path), "posture policy")
    if isinstance(data, dict) and isinstance(data.get("posture"), dict):
        data = data["posture"]
    check(data, SCHEMA, str(path), ref="posture")
    return posture_policy(data)


def _storage(raw: dict[str, Any]) -> StorageSpec:
    defaults = StorageSpec()
    lock = raw.get("object_lock")
    return StorageSpec(
        encryption=raw.get("encryption", defaults.encryption),
        kms_key=raw.get("kms_key"),
        versioning=raw.get("versioning", True),
        public_access_block=raw.get("public_access_block", True),
        noncurrent_version_days=raw.get("noncurrent_version_days", defaults.noncurrent_version_days),
        abort_incomplete_multipart_days=raw.get(
            "abort_incomplete_multipart_days", defaults.abort_incomplete_multipart_days
        ),
        tags=dict(raw.get("tags", defaults.tags)),
        object_lock=ObjectLock(lock["mode"], lock["days"]) if lock else None,
    )


def _transfer(raw: dict[str, Any]) -> TransferSettings:
    defaults = TransferSettings()
    return TransferSettings(
        sse=raw.get("sse"),
        kms_key=raw.get("kms_key"),
        multipart_threshold=int(raw.get("multipart_threshold_mb", defaults.multipart_threshold / MIB) * MIB),
        part_size=int(raw.get("part_size_mb", defaults.part_size / MIB) * MIB),
        max_concurrency=raw.get("max_concurrency", defaults.max_concurrency),
        max_attempts=raw.get("max_attempts", defaults.max_attempts),
    )


def load_settings(
    options: dict[str, Any],
    *,
    where: str,
    scenario_name: str,
    source_environment: str,
    key: str = "offsite",
    default_prefix: str = "drills",
) -> OffsiteSettings | None:
    """Offsite settings from a lane's ``options`` (already checked against the lane's schema);
    ``None`` when ``options.<key>`` declares no offsite storage. Errors name ``options.<key>.<setting>``."""
    raw = options.get(key)
    if raw is None:
        return None
    at = f"{where}: options.{key}"
    aws = raw.get("aws") or {}
    if aws.get("endpoint_url") and aws.get("provider", "embedded") != "localstack":
        raise ConfigError(f"{at}.aws.endpoint_url is only for provider localstack")
    name = raw.get("name", scenario_name)
    environment = raw.get("environment", source_environment)
    return OffsiteSettings(
        bucket=raw["bucket"],
        name=check_label(name, f"{at}.name (default: the scenario name)"),
        environment=check_label(environment, f"{at}.environment (default: source.environment)"),
        prefix=check_prefix(raw.get("prefix", default_prefix), f"{at}.prefix"),
        aws=AwsSettings(aws.get("provider", "embedded"), aws.get("region"), aws.get("endpoint_url")),
        provision=raw.get("provision"),
        storage=_storage(raw.get("storage") or {}),
        posture=posture_policy(raw.get("posture")),
        transfer=_transfer(raw.get("upload") or {}),
    )
