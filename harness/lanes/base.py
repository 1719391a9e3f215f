"""The lane base class: named steps, their dependencies, and the services they share."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from harness.evidence import Evidence
from harness.postgres.database import Database
from harness.postgres.embedded import EmbeddedCluster, EmbeddedProvider
from harness.postgres.providers import PostgresProvider, RoleSpec, provider_factory
from harness.scenario import Scenario


@dataclass(frozen=True)
class StepSpec:
    """One step of a lane, as data: the runner (``lanes/runner.py``) decides from it whether the step
    may run. ``needs``: steps that must have passed; ``needs_when``: ``(feature, step)`` pairs, the
    step must have passed when the lane has the feature (``Lane.has``), e.g. ``("offsite", "fetch")``."""

    name: str
    data_proving: bool = False
    needs: tuple[str, ...] = ()
    needs_when: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RunOptions:
    """Command-line settings that apply to every scenario in a run."""

    evidence_dir: Path = Path("reports")
    work_dir: Path = Path(".tmp/exports")
    pg_provider: str | None = None
    aws_provider: str | None = None
    dataset_rows: int | None = None
    keep_workdir: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Lane:
    """Base class: subclasses declare ``steps`` and implement ``step_<name>`` methods returning a message."""

    steps: ClassVar[tuple[StepSpec, ...]] = ()

    def __init__(self, scenario: Scenario, options: RunOptions, evidence: Evidence) -> None:
        self.scenario = scenario
        self.options = options
        self.evidence = evidence
        self.stack = contextlib.ExitStack()
        self.work_dir = Path(options.work_dir) / f"{scenario.name}-{evidence.run_id}"
        self._pg_providers: dict[str, PostgresProvider] = {}

    # -- steps --------------------------------------------------------------------------------------
    def runner(self, name: str) -> Callable[[], str]:
        method: Callable[[], str] = getattr(self, "step_" + name.replace("-", "_"))
        return method

    def sections(self) -> dict[str, Any]:
        """Lane-specific evidence sections merged into the evidence document."""
        return {}

    def has(self, feature: str) -> bool:
        """Whether the scenario turns on ``feature`` (named in ``StepSpec.needs_when``)."""
        return False

    # -- services -----------------------------------------------------------------------------------
    def pg_provider(self, role: str) -> PostgresProvider:
        """The PostgreSQL provider for ``role``: ``--pg-provider``, else the scenario's, else embedded."""
        name = self.options.pg_provider or self._pg_spec(role).get("provider", "embedded")
        return self._pg_provider_named(name, role)

    def _pg_spec(self, role: str) -> dict[str, Any]:
        spec: dict[str, Any] = self.scenario.section(role).get("postgres", {})
        return spec

    def _pg_provider_named(self, name: str, role: str = "source") -> PostgresProvider:
        """One provider per name per run, made on first use (its server starts when first asked)."""
        if name not in self._pg_providers:
            factory = provider_factory(name, f"{self.scenario.path}: {role}.postgres.provider")
            self._pg_providers[name] = factory(self.stack, self._pg_spec("source"))
        return self._pg_providers[name]

    def cluster(self) -> EmbeddedCluster:
        """The run's embedded PostgreSQL cluster, started on first use and stopped in ``close``."""
        provider = self._pg_provider_named("embedded")
        assert isinstance(provider, EmbeddedProvider)
        return provider.cluster()

    @property
    def _cluster(self) -> EmbeddedCluster | None:
        """The embedded cluster if it has been started (None before)."""
        provider = self._pg_providers.get("embedded")
        return provider.active if isinstance(provider, EmbeddedProvider) else None

    def postgres(self, role: str, dbname: str) -> tuple[Database, bool]:
        """The source or target database for ``role``; the flag says whether it lives on a throwaway
        server (embedded or docker) the drill may create databases on."""
        spec = self._pg_spec(role)
        provider = self.pg_provider(role)
        environment = self.scenario.section(role).get("environment") or spec.get("environment")
        found = provider.database(RoleSpec(role, spec, environment, str(self.scenario.path)), dbname)
        return found, provider.throwaway

    def admin_database(self, db: Database) -> Database:
        """The maintenance database of the throwaway server ``db`` lives on (embedded or docker)."""
        return self._pg_provider_named(db.provider).admin()

    def require_providers(self, *roles: str) -> None:
        """Start (or skip for want of) every Docker-backed service the roles need, before any work,
        so a drill that cannot have its services is skipped as a whole and never half-verified."""
        for role in roles:
            self.pg_provider(role).require(role)

    def objective(self, key: str, measured: float | None, definition: str) -> dict[str, Any]:
        """A measured RTO or RPO (``key``) beside the scenario's ``objectives.<key>_seconds``."""
        goal = self.scenario.section("objectives").get(f"{key}_seconds")
        return {
            "measured_seconds": measured,
            "objective_seconds": goal,
            "met": None if measured is None or goal is None else measured <= goal,
            "definition": definition,
        }

    def make_work_dir(self) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir

    def close(self, verdict: str) -> None:
        """Stop services; remove the work directory unless asked to keep it or the drill did not verify."""
        try:
            self.stack.close()
        finally:
            if verdict == "verified" and not self.options.keep_workdir:
                shutil.rmtree(self.work_dir, ignore_errors=True)
