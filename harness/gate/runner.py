"""Run the gate over templates and workflows: collect inputs, apply every check family, consolidate."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.gate.checks import families
from harness.gate.findings import RULES, SEVERITIES, Finding
from harness.gate.policies import collect_roles
from harness.gate.rules_workflow import load_workflow, looks_like_workflow
from harness.gate.spec import GateSpec
from harness.gate.templates import Resolver, load_template

CATEGORIES = {
    "cfn-lint": "cfn-lint",
    "GATE": "iam",
    "IAM": "iam",
    "OIDC": "oidc",
    "WF": "workflows",
    "zizmor": "workflows",
    "TOOL": "workflows",
    "S3": "posture",
    "SCHED": "posture",
    "DB": "posture",
}
# When several rules fire on the same line, the root cause is reported and the rest are folded into it.
STRUCTURAL_FIRST = ["GATE000", "IAM003", "IAM004", "IAM005", "IAM007", "IAM006", "IAM001", "IAM002"]
FOLDABLE = frozenset({"IAM001", "IAM002", "IAM006"})
PRECEDENCE = STRUCTURAL_FIRST + [r for r in RULES if r not in STRUCTURAL_FIRST]
_SUFFIXES = (".yaml", ".yml", ".json", ".template")
_JOBS = re.compile(r"^jobs\s*:", re.MULTILINE)


def category(rule: str) -> str:
    return next((cat for prefix, cat in CATEGORIES.items() if rule.startswith(prefix)), "other")


@dataclass
class GateReport:
    findings: list[Finding] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    roles_evaluated: list[str] = field(default_factory=list)
    spec: str | None = None
    fail_on: str = "error"
    seconds: float = 0.0

    def failing(self, cat: str | None = None) -> list[Finding]:
        levels = SEVERITIES[: SEVERITIES.index(self.fail_on) + 1]
        return [f for f in self.findings if f.severity in levels and (cat is None or category(f.rule) == cat)]

    @property
    def passed(self) -> bool:
        return not self.failing()

    def counts(self) -> dict[str, Any]:
        return {
            "by_severity": dict(Counter(f.severity for f in self.findings)),
            "by_rule": dict(sorted(Counter(f.rule for f in self.findings).items())),
            "failing": len(self.failing()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "fail_on": self.fail_on,
            "spec": self.spec,
            "templates": self.templates,
            "workflows": self.workflows,
            "roles_evaluated": self.roles_evaluated,
            "seconds": round(self.seconds, 3),
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES))
        elif path.is_file():
            out.append(path)
        else:
            raise ConfigError(f"{path}: no such template, workflow or directory")
    return out


def classify(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    templates, workflows = [], []
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        if ".github/workflows" in path.as_posix() or (path.suffix != ".json" and _JOBS.search(text)):
            workflows.append(path)
        elif "Resources" in text or "AWSTemplateFormatVersion" in text:
            templates.append(path)
        else:
            raise ConfigError(f"{path}: neither a CloudFormation/SAM template nor a GitHub Actions workflow")
    return templates, workflows


def consolidate(findings: Iterable[Finding], ignore: Sequence[str] = ()) -> list[Finding]:
    """Fold consequence findings (IAM001/IAM002/IAM006) into the root cause on the same line.

    ``events:*`` on ``*`` is one mistake: it also leaks every must-deny probe (IAM002) and
    grants write on any resource (IAM006). Such consequences are mentioned in the message
    of the structural finding at the same (file, line, resource) instead of being reported
    again; distinct problems (every other rule) are always reported separately.
    """
    groups: dict[tuple[str, int, str], list[Finding]] = {}
    for f in findings:
        if f.rule not in ignore:
            groups.setdefault((f.file, f.line, f.resource), []).append(f)

    def rank(f: Finding) -> tuple[int, int]:
        return (
            SEVERITIES.index(f.severity),
            PRECEDENCE.index(f.rule) if f.rule in PRECEDENCE else len(PRECEDENCE),
        )

    out: list[Finding] = []
    for group in groups.values():
        group.sort(key=rank)
        kept = [f for f in group if f.rule not in FOLDABLE] or group[:1]
        folded = [f for f in group if f not in kept]
        if folded:
            head = kept[0]
            also = "; also " + "; ".join(f"{f.rule}: {f.message}" for f in folded)
            kept[0] = Finding(
                head.file, head.line, head.rule, head.severity, head.resource, head.message + also
            )
        out.extend(kept)
    return sorted(out)


def check_templates(
    templates: Sequence[Path], spec: GateSpec, *, lint: bool = True
) -> tuple[list[Finding], list[str]]:
    """The ``role`` and ``template`` families on every template (``lint=False`` leaves out cfn-lint)."""
    role_checks = [f.check for f in families("role")]
    template_checks = [f.check for f in families("template") if lint or f.name != "cfn-lint"]
    findings: list[Finding] = []
    roles_seen: list[str] = []
    for path in templates:
        template = load_template(path)
        if template.parse_findings:
            findings += template.parse_findings
            continue
        resolver = Resolver(template, spec.parameters)
        for logical_id, rp in collect_roles(template, resolver).items():
            roles_seen.append(logical_id)
            for check in role_checks:
                findings += check(rp, spec)
        for check in template_checks:
            findings += check(template, resolver, spec)
    return findings, roles_seen


def run_gate(spec: GateSpec, inputs: Sequence[str | Path], *, lint: bool = True) -> GateReport:
    started = time.perf_counter()
    templates, workflows = classify(expand_inputs(inputs))
    if not templates and not workflows:
        raise ConfigError("no templates or workflows to check")
    findings, roles_seen = check_templates(templates, spec, lint=lint)
    for family in families("templates"):
        findings += family.check(templates, roles_seen, spec)
    workflow_checks = [f.check for f in families("workflow")]
    for path in workflows:
        data = load_workflow(path)
        if not looks_like_workflow(data, path):
            raise ConfigError(f"{path}: not a GitHub Actions workflow (no 'on' and 'jobs')")
        for check in workflow_checks:
            findings += check(path, data, spec)
    for family in families("workflows"):
        findings += family.check(workflows, spec)
    return GateReport(
        findings=consolidate(findings, spec.ignore),
        templates=[str(p) for p in templates],
        workflows=[str(p) for p in workflows],
        roles_evaluated=sorted(set(roles_seen)),
        spec=str(spec.path) if spec.path else None,
        fail_on=spec.fail_on,
        seconds=time.perf_counter() - started,
    )
