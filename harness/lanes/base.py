"""The lane base class: named steps, their dependencies, and the services they share."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import ConfigError, StepSkipped
from harness.evidence import Evidence
from harness.postgres.database import Database
from harness.postgres.embedded import EmbeddedCluster, embedded_postgres
from harness.postgres.external import external_database
from harness.scenario import DatabaseRole, RunOptions, Scenario


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

    def __init__(self, scenario: Scenario, options: RunOptions, evidence: Evidence) -> None:
        self.scenario = scenario
        self.options = options
        self.evidence = evidence
        self.stack = contextlib.ExitStack()
        self.work_dir = Path(options.work_dir) / f"{scenario.name}-{evidence.run_id}"
        self._cluster: EmbeddedCluster | None = None
        self._docker_admin: Database | None = None
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
    def cluster(self) -> EmbeddedCluster:
        """The run's embedded PostgreSQL cluster, started on first use and stopped in ``close``."""
        if self._cluster is None:
            self._cluster = self.stack.enter_context(embedded_postgres(self.role("source").bindir))
        return self._cluster

    def postgres(self, role: str, dbname: str) -> tuple[Database, bool]:
        """The source or target database for ``role``; the flag says whether it is embedded."""
        spec = self.role(role)
        if spec.provider == "embedded":
            return self.cluster().database(dbname).with_environment(spec.environment), True
        if spec.provider == "docker":
            return self.docker_admin(role).with_dbname(dbname).with_environment(spec.environment), True
        if spec.provider != "external":
            raise ConfigError(
                f"{self.scenario.path}: {role}.postgres.provider {spec.provider!r} is not supported here"
            )
        var = spec.dsn_env
        if not var:
            raise ConfigError(
                f"{self.scenario.path}: {role}.postgres.dsn_env must name the variable holding the DSN"
            )
        dsn = os.environ.get(var)
        if not dsn:
            raise ConfigError(f"{self.scenario.path}: environment variable {var} (the {role} DSN) is not set")
        return external_database(dsn, environment=spec.declared_environment, source=f"${var}"), False

    def docker_admin(self, role: str = "source") -> Database:
        """The run's PostgreSQL container (pinned image), started on first use and stopped in ``close``.

        Without a reachable Docker daemon the step is skipped with the reason (never passed)."""
        if self._docker_admin is None:
            from harness.containers import DockerUnavailable
            from harness.postgres.docker import docker_postgres

            try:
                self._docker_admin = self.stack.enter_context(docker_postgres())
            except DockerUnavailable as exc:
                raise StepSkipped(f"{role}.postgres.provider is docker: {exc}") from None
        return self._docker_admin

    def admin_database(self, db: Database) -> Database:
        """The maintenance database of the throwaway server ``db`` lives on (embedded or docker)."""
        return self.docker_admin() if db.provider == "docker" else self.cluster().database()

    def require_providers(self, *roles: str) -> None:
        """Start (or skip for want of) every Docker-backed service the roles need, before any work,
        so a drill that cannot have its services is skipped as a whole and never half-verified."""
        for role in roles:
            if self.role(role).provider == "docker":
                self.docker_admin(role)

    def objective(self, key: str, measured: float | None, definition: str) -> dict[str, Any]:
        """A measured RTO or RPO (``key``) beside the scenario's ``objectives.<key>_seconds``."""
        goal = self.scenario.objectives.get(key)
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
