"""Options of the database-drill lanes: the scenario's ``options:`` checked against the lane's own
JSON Schema and typed once, when the lane is set up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from harness.config import check
from harness.dataset.chain import REFERENCE_CHAIN, ChainSpec
from harness.errors import ConfigError
from harness.offsite.settings import OffsiteSettings

#: Schemas a lane's options schema may ``$ref`` (pitr's ``wal_offsite`` reuses the offsite pieces).
SHARED_SCHEMAS = ("offsite-options.schema.json",)


def validate_options(options: Any, schema_name: str, source: str) -> dict[str, Any]:
    """``options`` checked against ``schema_name``; errors name ``source`` and ``options.<setting>``."""
    check(options, schema_name, source, root="options", shared=SHARED_SCHEMAS)
    assert isinstance(options, dict)
    return options


def chain_option(value: Any) -> ChainSpec | None:
    """``chain:`` as a spec: absent means the reference chain, ``false`` means no chain."""
    if value is False:
        return None
    return ChainSpec.from_options(value or {})


@dataclass(frozen=True)
class RoundTripOptions:
    schemas: tuple[str, ...] = ("public",)
    loss: str = "drop-schema"
    chain: ChainSpec | None = REFERENCE_CHAIN
    canary: bool = True
    restore_jobs: int = 1
    workload_sql: tuple[str, ...] = ()
    workload_dataset: bool = True  # seed the reference dataset first (default: unless SQL is given)

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str) -> RoundTripOptions:
        validate_options(options, "pg-roundtrip-options.schema.json", where)
        workload = options.get("workload") or {}
        sql = tuple(workload.get("sql") or ())
        return cls(
            schemas=tuple(options.get("schemas") or ("public",)),
            loss=str(options.get("loss", "drop-schema")),
            chain=chain_option(options.get("chain")),
            canary=bool(options.get("canary", True)),
            restore_jobs=int(options.get("restore_jobs", 1)),
            workload_sql=sql,
            workload_dataset=bool(workload.get("dataset", not sql)),
        )


@dataclass(frozen=True)
class PitrOptions:
    rows_before_target: int = 20
    rows_after_target: int = 20
    verify_backup: bool = True
    recovery_timeout_seconds: float = 600.0
    wal_offsite: OffsiteSettings | None = None  # None: recovery reads the local WAL archive

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str, environment: str) -> PitrOptions:
        from harness.pgdrill.wal_offsite import load_wal_offsite

        validate_options(options, "pitr-options.schema.json", where)
        offsite = load_wal_offsite(dict(options), where=where, environment=environment)
        return cls(
            rows_before_target=int(options.get("rows_before_target", 20)),
            rows_after_target=int(options.get("rows_after_target", 20)),
            verify_backup=bool(options.get("verify_backup", True)),
            recovery_timeout_seconds=float(options.get("recovery_timeout_seconds", 600)),
            wal_offsite=offsite,
        )


@dataclass(frozen=True)
class CanarySpec:
    sql: str  # read-only query whose first value is the planted token
    expect_env: str  # NAME of the environment variable holding the expected token


@dataclass(frozen=True)
class RestoreCheckOptions:
    dump: str | None = None
    min_rows: Mapping[str, int] = field(default_factory=dict)
    canary: CanarySpec | None = None
    chain: ChainSpec | None = None  # None: no chain to verify

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str) -> RestoreCheckOptions:
        validate_options(options, "pg-restore-check-options.schema.json", where)
        canary = options.get("canary")
        chain = options.get("chain")
        return cls(
            dump=options.get("dump"),
            min_rows=dict(options.get("min_rows") or {}),
            canary=CanarySpec(canary["sql"], canary["expect_env"]) if canary else None,
            chain=ChainSpec.from_options(chain) if chain else None,
        )


@dataclass(frozen=True)
class StandInSpec:
    rows_before_target: int = 20
    rows_after_target: int = 20


@dataclass(frozen=True)
class PitrArchiveOptions:
    """``pitr-archive`` options: exactly one of ``pgbackrest`` (stanza, config, repo) and
    ``base_backup`` (backup, wal, aws); the target (None: latest); the restored cluster's user and
    database; an optional stand-in production (pgBackRest only)."""

    pgbackrest: Mapping[str, Any] | None
    base_backup: Mapping[str, Any] | None
    target: datetime | None
    stand_in: StandInSpec | None
    user: str = "postgres"
    database: str = "postgres"
    timeout_seconds: float = 3600.0
    verify_backup: bool = True

    @classmethod
    def parse(cls, options: Mapping[str, Any], where: str) -> PitrArchiveOptions:
        validate_options(options, "pitr-archive-options.schema.json", where)
        stand_in = options.get("stand_in")
        text = options.get("target", "latest")
        if stand_in is not None:
            if "pgbackrest" not in options:
                raise ConfigError(
                    f"{where}: options.stand_in: a stand-in production writes a pgBackRest stanza"
                )
            if "config" in options["pgbackrest"] or "target" in options:
                raise ConfigError(
                    f"{where}: options.stand_in: the stand-in makes its own repository and target; "
                    "drop options.pgbackrest.config and options.target"
                )
        restore = options.get("restore") or {}
        return cls(
            pgbackrest=options.get("pgbackrest"),
            base_backup=options.get("base_backup"),
            target=None if text == "latest" else parse_target(text, f"{where}: options.target"),
            stand_in=StandInSpec(
                int(stand_in.get("rows_before_target", 20)), int(stand_in.get("rows_after_target", 20))
            )
            if stand_in is not None
            else None,
            user=str(restore.get("user", "postgres")),
            database=str(restore.get("database", "postgres")),
            timeout_seconds=float(restore.get("timeout_seconds", 3600)),
            verify_backup=bool(options.get("verify_backup", True)),
        )


def parse_target(text: str, where: str) -> datetime:
    """An RFC 3339 UTC time (``2026-12-01T10:00:00Z``, optional fraction) as a datetime."""
    try:
        return datetime.strptime(
            text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z" if "." in text else "%Y-%m-%dT%H:%M:%S%z"
        )
    except ValueError:
        raise ConfigError(f"{where}: {text[:40]!r} is not a UTC time like 2026-12-01T10:00:00Z") from None
