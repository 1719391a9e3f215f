"""The ``least-privilege-gate`` lane: the gate as a scenario (``scenarios/pr/``), one step per rule family.

Scenario ``options``: ``spec`` (policy spec), ``templates`` and ``workflows`` (files or
directories), all relative to the scenario file. The evaluation steps (iam, oidc,
posture) are data-proving; the SARIF report lands next to the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.config import check
from harness.errors import ConfigError, StepSkipped, VerificationFailed
from harness.evidence.sinks import Sink, SinkContext, run_sinks
from harness.gate.runner import GateReport, category, run_gate
from harness.gate.sarif import SarifSink
from harness.gate.spec import load_spec
from harness.gate.summary import GateMarkdownSink
from harness.lanes.base import Lane, StepSpec


@dataclass(frozen=True)
class GateOptions:
    spec: Path | None = None  # None: only the generic rules run
    templates: tuple[Path, ...] = ()
    workflows: tuple[Path, ...] = ()


class GateLane(Lane):
    steps: ClassVar = (
        StepSpec("gate"),
        StepSpec("cfn-lint", needs=("gate",)),
        StepSpec("iam", data_proving=True, needs=("gate",)),
        StepSpec("oidc", data_proving=True, needs=("gate",)),
        StepSpec("workflows", needs=("gate",)),
        StepSpec("posture", data_proving=True, needs=("gate",)),
        StepSpec("sarif", needs=("gate",)),
    )

    report: GateReport | None = None
    sarif_path: Path | None = None

    def parse_options(self) -> GateOptions:
        options = self.scenario.options
        check(options, "gate-options.schema.json", str(self.scenario.path), root="options")
        spec = options.get("spec")
        return GateOptions(
            spec=self.scenario.resolve(spec) if spec else None,
            templates=tuple(self.scenario.resolve(p) for p in options.get("templates") or ()),
            workflows=tuple(self.scenario.resolve(p) for p in options.get("workflows") or ()),
        )

    def step_gate(self) -> str:
        opts: GateOptions = self.opts
        spec = load_spec(opts.spec)
        inputs = [str(p) for p in (*opts.templates, *opts.workflows)]
        if not inputs:
            raise ConfigError(
                f"{self.scenario.path}: options.templates / options.workflows list nothing to check"
            )
        self.report = run_gate(spec, inputs)
        r = self.report
        return f"{len(r.templates)} template(s), {len(r.workflows)} workflow(s), {len(r.findings)} finding(s)"

    def _category(self, cat: str, what: str) -> str:
        assert self.report is not None
        failing = self.report.failing(cat)
        if failing:
            raise VerificationFailed(
                f"{len(failing)} {what} violation(s): " + "; ".join(map(str, failing[:5]))
            )
        seen = [f for f in self.report.findings if category(f.rule) == cat]
        return f"no {what} violations" + (f" ({len(seen)} non-failing finding(s))" if seen else "")

    def step_cfn_lint(self) -> str:
        return self._category("cfn-lint", "cfn-lint")

    def step_iam(self) -> str:
        assert self.report is not None
        if not self.report.roles_evaluated:
            raise StepSkipped("no IAM roles in the templates")
        return self._category("iam", "IAM") + f"; roles evaluated: {', '.join(self.report.roles_evaluated)}"

    def step_oidc(self) -> str:
        return self._category("oidc", "OIDC trust")

    def step_workflows(self) -> str:
        assert self.report is not None
        if not self.report.workflows:
            raise StepSkipped("no workflows given")
        return self._category("workflows", "workflow")

    def step_posture(self) -> str:
        assert self.report is not None
        if not self.report.templates:
            raise StepSkipped("no templates given")
        return self._category("posture", "posture")

    def step_sarif(self) -> str:
        assert self.report is not None
        stem = f"gate-{self.scenario.name}-{self.evidence.run_id}"
        sinks: list[Sink[GateReport]] = [SarifSink(stem), GateMarkdownSink(stem)]
        written = run_sinks(sinks, self.report, SinkContext(Path(self.options.evidence_dir)))
        self.sarif_path = written["sarif"]
        return f"SARIF 2.1.0 with {len(self.report.findings)} result(s) at {self.sarif_path}"

    def sections(self) -> dict[str, Any]:
        if self.report is None:
            return {}
        gate = self.report.to_dict()
        gate["sarif"] = str(self.sarif_path) if self.sarif_path else None
        return {"extra": {"gate": gate}}
