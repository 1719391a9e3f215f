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
from harness.gate.spec import GateSpec, load_spec
from harness.gate.summary import GateMarkdownSink
from harness.lanes.base import Lane, StepSpec


@dataclass(frozen=True)
class LiveOptions:
    provider: str = "embedded"
    region: str | None = None
    endpoint_url: str | None = None
    provision: bool = False  # embedded only: create the role from the template before reading it


@dataclass(frozen=True)
class GateOptions:
    spec: Path | None = None  # None: only the generic rules run
    templates: tuple[Path, ...] = ()
    workflows: tuple[Path, ...] = ()
    terraform: tuple[Path, ...] = ()
    live: LiveOptions | None = None


class GateLane(Lane):
    steps: ClassVar = (
        StepSpec("gate"),
        StepSpec("cfn-lint", needs=("gate",)),
        StepSpec("iam", data_proving=True, needs=("gate",)),
        StepSpec("oidc", data_proving=True, needs=("gate",)),
        StepSpec("workflows", needs=("gate",)),
        StepSpec("posture", data_proving=True, needs=("gate",)),
        StepSpec("live", data_proving=True, needs=("gate",)),
        StepSpec("sarif", needs=("gate",)),
    )

    report: GateReport | None = None
    sarif_path: Path | None = None

    def parse_options(self) -> GateOptions:
        options = self.scenario.options
        check(options, "gate-options.schema.json", str(self.scenario.path), root="options")
        spec = options.get("spec")
        live = options.get("live")
        return GateOptions(
            spec=self.scenario.resolve(spec) if spec else None,
            templates=tuple(self.scenario.resolve(p) for p in options.get("templates") or ()),
            workflows=tuple(self.scenario.resolve(p) for p in options.get("workflows") or ()),
            terraform=tuple(self.scenario.resolve(p) for p in options.get("terraform") or ()),
            live=LiveOptions(**live) if isinstance(live, dict) else None,
        )

    def step_gate(self) -> str:
        opts: GateOptions = self.opts
        spec = load_spec(opts.spec)
        inputs = [str(p) for p in (*opts.templates, *opts.workflows, *opts.terraform)]
        if not inputs:
            raise ConfigError(
                f"{self.scenario.path}: options.templates / workflows / terraform list nothing to check"
            )
        if opts.live is None:
            self.report = run_gate(spec, inputs)
        else:
            self.report = self._run_live(spec, inputs, opts.live)
        r = self.report
        return f"{len(r.templates)} template(s), {len(r.workflows)} workflow(s), {len(r.findings)} finding(s)"

    def _run_live(self, spec: GateSpec, inputs: list[str], live: LiveOptions) -> GateReport:
        from harness.aws.providers import aws_endpoint
        from harness.gate.live import LiveReader, provision
        from harness.gate.policies import collect_roles
        from harness.gate.templates import Resolver, load_template

        if spec.live is None:
            raise ConfigError(
                f"{self.scenario.path}: options.live needs a spec with 'live: {{role_name: ...}}'"
            )
        if live.provision and live.provider != "embedded":
            raise ConfigError(
                f"{self.scenario.path}: options.live.provision is for the embedded endpoint only"
            )
        region = live.region or str(spec.parameters.get("AWS::Region", "")) or None
        with aws_endpoint(live.provider, region=region, url=live.endpoint_url) as endpoint:
            if live.provision:
                for path in self.opts.templates:
                    template = load_template(path)
                    role = collect_roles(template, Resolver(template, spec.parameters)).get(spec.live.role)
                    if role is not None:
                        provision(endpoint, spec.live.role_name, role)
            return run_gate(spec, inputs, live=LiveReader(endpoint))

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

    def step_live(self) -> str:
        assert self.report is not None
        if self.report.live is None:
            raise StepSkipped("no live drift check configured (options.live)")
        where = self.report.live.get("provider", "?")
        return self._category("live", "live drift") + f"; deployed role read from the {where} endpoint"

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
