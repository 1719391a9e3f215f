"""Options of the database-drill lanes: the scenario's ``options:`` checked against the lane's own
JSON Schema and typed once, when the lane is set up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.config import check
from harness.dataset.chain import REFERENCE_CHAIN, ChainSpec
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
