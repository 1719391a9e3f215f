"""The lane base class: named steps, their dependencies, and the services they share."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import ConfigError, StepSkipped, VerificationFailed
from harness.evidence import Evidence
from harness.postgres.database import Database
from harness.postgres.embedded import EmbeddedCluster, EmbeddedProvider
from harness.postgres.providers import DatabaseRole, PostgresProvider, provider_factory
from harness.scenario import RunOptions, Scenario


@dataclass(frozen=True)
class StepSpec:
    """One step of a lane, as data: the runner (``lanes/runner.py``) decides from it whether the step
    may run. ``needs``: steps that must have passed; ``needs_when``: ``(feature, step)`` pairs, the
    step must have passed when the lane has the feature (``Lane.has``), e.g. ``("offsite", "fetch")``."""

    name: str
    data_proving: bool = False
    needs: tuple[str, ...] = ()
    needs_when: tuple[tuple[str, str], ...] = ()


class Lane:
    """Base class: subclasses declare ``steps`` and implement ``step_<name>`` methods returning a message.

    A lane's ``options`` are parsed once, when the lane is set up, by :meth:`parse_options` (a
    frozen dataclass, or None for a lane without options). Invalid options do not stop the set-up
    (the evidence must still list every step): :attr:`opts` raises the ConfigError instead, and
    every lane reads it in its first step, so the drill errors there, before any work."""

    steps: ClassVar[tuple[StepSpec, ...]] = ()
    #: Rows of the reference dataset when neither ``source.dataset`` nor ``--dataset-rows`` says.
    default_dataset_rows: ClassVar[int] = 10_000
    #: Whether ``drill run --archive URI`` applies to the lane (it then drills that archive).
    accepts_archive: ClassVar[bool] = False

    @classmethod
    def for_scenario(cls, scenario: Scenario, options: RunOptions) -> type[Lane]:
        """The class that runs ``scenario`` under ``options``: a lane with modes whose steps differ
        returns the mode's class (its steps are what the plugin collects); others return ``cls``."""
        return cls

    def __init__(self, scenario: Scenario, options: RunOptions, evidence: Evidence) -> None:
        self.scenario = scenario
        self.options = options
        self.evidence = evidence
        self.stack = contextlib.ExitStack()
        self.work_dir = Path(options.work_dir) / f"{scenario.name}-{evidence.run_id}"
        self._pg_providers: dict[str, PostgresProvider] = {}
        self._options_error: ConfigError | None = None
        try:
            self._opts: Any = self.parse_options()
        except ConfigError as exc:
            self._options_error = exc

    def parse_options(self) -> Any:
        """The scenario's ``options`` checked and typed (override in lanes that take options)."""
        return None

    @property
    def opts(self) -> Any:
        """The parsed options; raises the ConfigError when they are invalid."""
        if self._options_error is not None:
            raise self._options_error
        return self._opts

    def role(self, role: str) -> DatabaseRole:
        """The ``source`` or ``target`` database as the scenario and the command line leave it."""
        return self.scenario.database(role, self.options)

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
        return self._pg_provider_named(self.role(role).provider, role)

    def _pg_provider_named(self, name: str, role: str = "source") -> PostgresProvider:
        """One provider per name per run, made on first use (its server starts when first asked)."""
        if name not in self._pg_providers:
            factory = provider_factory(name, f"{self.scenario.path}: {role}.postgres.provider")
            self._pg_providers[name] = factory(self.stack, self.role("source"))
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
        provider = self.pg_provider(role)
        return provider.database(self.role(role), dbname), provider.throwaway

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
        goal = self.scenario.objectives.get(key)
        return {
            "measured_seconds": measured,
            "objective_seconds": goal,
            "met": None if measured is None or goal is None else measured <= goal,
            "definition": definition,
        }

    def judge_objectives(self, measured: dict[str, float | None]) -> str:
        """The ``objectives`` step: each measured RTO/RPO (``measured["rto"|"rpo"]``) against the
        scenario's objective; VerificationFailed naming every one missed, StepSkipped without any."""
        goals = self.scenario.objectives
        if goals.rto_seconds is None and goals.rpo_seconds is None:
            raise StepSkipped("the scenario sets no objectives")
        missed: list[str] = []
        met: list[str] = []
        for key in ("rto", "rpo"):
            goal, value = goals.get(key), measured.get(key)
            if goal is not None and value is not None:
                (met if value <= goal else missed).append(f"{key.upper()} {value:.1f}s vs {goal:g}s")
        if missed:
            raise VerificationFailed("objective missed: " + ", ".join(missed))
        return "met: " + ", ".join(met)

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
