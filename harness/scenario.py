"""Scenario files (YAML under ``scenarios/``, one drill each), typed once, and the run's options.

A scenario's ``source``/``target``/``objectives`` sections become frozen dataclasses when the file
is loaded; :meth:`Scenario.database` resolves a role against the command line's
:class:`RunOptions` (provider, environment, bindir, dataset size) in this one place, so no lane
re-reads the raw sections with defaults of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.config import load_yaml
from harness.postgres.providers import DEFAULT_PROVIDER, THROWAWAY_ENVIRONMENT, DatabaseRole


@dataclass(frozen=True)
class RunOptions:
    """Command-line settings that apply to every scenario in a run."""

    evidence_dir: Path = Path("reports")
    work_dir: Path = Path(".tmp/exports")
    pg_provider: str | None = None
    aws_provider: str | None = None
    dataset_rows: int | None = None
    keep_workdir: bool = False
    archive: str | None = None  # ``drill run --archive URI``: drill this existing archive
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostgresSpec:
    """A role's ``postgres:`` section as written (None: not set)."""

    provider: str | None = None
    dsn_env: str | None = None
    bindir: str | None = None
    environment: str | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> PostgresSpec:
        raw = raw or {}
        return cls(raw.get("provider"), raw.get("dsn_env"), raw.get("bindir"), raw.get("environment"))


@dataclass(frozen=True)
class DatasetSpec:
    """``source.dataset``: the reference dataset's size and seed."""

    rows: int
    seed: int = 42


@dataclass(frozen=True)
class ArchiveSpec:
    """``source.archive``: an archive that already exists (``s3://`` prefix or key, or a local path)."""

    uri: str
    version_id: str | None = None


@dataclass(frozen=True)
class SourceSpec:
    postgres: PostgresSpec = PostgresSpec()
    environment: str | None = None
    stack: str = ""
    region: str = ""
    dataset: DatasetSpec | None = None
    archive: ArchiveSpec | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> SourceSpec:
        raw = raw or {}
        data = raw.get("dataset")
        dataset = DatasetSpec(int(data["rows"]), int(data.get("seed", 42))) if data else None
        archive = raw.get("archive")
        return cls(
            PostgresSpec.parse(raw.get("postgres")),
            raw.get("environment"),
            raw.get("stack", ""),
            raw.get("region", ""),
            dataset,
            ArchiveSpec(archive["uri"], archive.get("version_id")) if archive else None,
        )


@dataclass(frozen=True)
class TargetSpec:
    postgres: PostgresSpec = PostgresSpec()
    environment: str | None = None
    schema_sql: str = "reference"

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> TargetSpec:
        raw = raw or {}
        return cls(
            PostgresSpec.parse(raw.get("postgres")),
            raw.get("environment"),
            raw.get("schema_sql", "reference"),
        )


@dataclass(frozen=True)
class Objectives:
    """``objectives``: recovery-time and recovery-point objectives and the freshness bound, in seconds
    (None: not set)."""

    rto_seconds: float | None = None
    rpo_seconds: float | None = None
    max_backup_age_seconds: float | None = None

    def get(self, key: str) -> float | None:
        """The objective for ``rto``, ``rpo`` or ``max_backup_age``."""
        value: float | None = getattr(self, f"{key}_seconds")
        return value


@dataclass(frozen=True)
class HeartbeatSpec:
    """``heartbeat``: a row the application writes regularly (table, timestamptz column, equality
    filter); the newest one found after a restore measures the RPO."""

    table: str
    column: str
    where: tuple[tuple[str, str | int | bool], ...] = ()
    database: str | None = None

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> HeartbeatSpec | None:
        if not raw:
            return None
        where = tuple(sorted((raw.get("where") or {}).items()))
        return cls(raw["table"], raw["column"], where, raw.get("database"))


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    lane: str
    data: dict[str, Any]
    sha256: str

    def section(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        assert isinstance(value, dict)
        return value

    @cached_property
    def source(self) -> SourceSpec:
        return SourceSpec.parse(self.section("source"))

    @cached_property
    def target(self) -> TargetSpec:
        return TargetSpec.parse(self.section("target"))

    @cached_property
    def objectives(self) -> Objectives:
        raw = self.section("objectives")
        return Objectives(raw.get("rto_seconds"), raw.get("rpo_seconds"), raw.get("max_backup_age_seconds"))

    @cached_property
    def heartbeat(self) -> HeartbeatSpec | None:
        return HeartbeatSpec.parse(self.section("heartbeat"))

    @property
    def options(self) -> dict[str, Any]:
        """The lane-specific ``options`` mapping, as written (each lane parses it once)."""
        return self.section("options")

    @property
    def source_environment(self) -> str:
        """The environment the source is labelled with in manifests and object keys."""
        return self.source.environment or self.source.postgres.environment or THROWAWAY_ENVIRONMENT["source"]

    def database(self, role: str, options: RunOptions) -> DatabaseRole:
        """The ``source`` or ``target`` database as the command line leaves it (``--pg-provider``)."""
        spec = self.source if role == "source" else self.target
        return DatabaseRole(
            role=role,
            provider=options.pg_provider or spec.postgres.provider or DEFAULT_PROVIDER,
            declared_environment=spec.environment or spec.postgres.environment,
            bindir=spec.postgres.bindir,
            dsn_env=spec.postgres.dsn_env,
            where=str(self.path),
        )

    def dataset(self, options: RunOptions, default_rows: int) -> DatasetSpec:
        """The reference dataset to seed: ``--dataset-rows``, else ``source.dataset``, else the
        lane's default size."""
        dataset = self.source.dataset or DatasetSpec(default_rows)
        return DatasetSpec(options.dataset_rows or dataset.rows, dataset.seed)

    def resolve(self, relative: str) -> Path:
        """A path from the scenario, relative to the scenario file."""
        return (self.path.parent / relative).resolve()

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": self.name,
            "file": str(self.path),
            "lane": self.lane,
            "sha256": f"sha256:{self.sha256}",
        }
        # controls the scenario maps itself to, and its production size (the RTO forecast)
        described.update({k: self.data[k] for k in ("controls", "production") if k in self.data})
        return described


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path).resolve()
    data, blob = load_yaml(path, "scenario.schema.json", "scenario")
    return Scenario(path, data["name"], data["lane"], data, hashlib.sha256(blob).hexdigest())
