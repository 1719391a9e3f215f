"""cfn-lint as part of the gate: its matches become ``cfn-lint/<rule id>`` findings."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cfnlint.api import Runner  # type: ignore[import-untyped]
from cfnlint.config import ConfigMixIn  # type: ignore[import-untyped]

from harness.gate.checks import check_family
from harness.gate.findings import SEVERITIES, Finding
from harness.gate.spec import GateSpec
from harness.gate.templates import Resolver, Template

_SEVERITY = {"E": "error", "W": "warning", "I": "note"}


@lru_cache(maxsize=8)
def _runner(region: str) -> Any:
    return Runner(ConfigMixIn(regions=[region]))


def cfn_lint(template: Template, region: str) -> list[Finding]:
    """Run every default cfn-lint rule (in-process, one rule load per region) on a decoded template."""
    if template.parse_findings:
        return list(template.parse_findings)
    findings = []
    for match in _runner(region).validate_template(template.data):
        rule_id = str(match.rule.id)
        findings.append(
            Finding(
                file=str(template.path),
                line=int(match.linenumber or 1),
                rule=f"cfn-lint/{rule_id}",
                severity=_SEVERITY.get(rule_id[:1], "warning"),
                resource=str(match.path[1])
                if len(match.path or []) > 1 and match.path[0] == "Resources"
                else "",
                message=str(match.message),
            )
        )
    return findings


def group(findings: list[Finding]) -> list[Finding]:
    """One finding per root cause: cfn-lint findings of one file with the same message (an undefined
    parameter is reported once per reference, by several rules) become one, at the first line, with
    the highest severity and the other rules and lines named."""
    by_cause: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        by_cause.setdefault((f.file, f.message), []).append(f)
    out: list[Finding] = []
    for (file, message), group_ in by_cause.items():
        if len(group_) == 1:
            out.extend(group_)
            continue
        group_.sort(key=lambda f: (f.line, f.rule))
        head = group_[0]
        severity = min((f.severity for f in group_), key=SEVERITIES.index)
        rules = sorted({f.rule.removeprefix("cfn-lint/") for f in group_})
        lines = sorted({f.line for f in group_})
        shown = ", ".join(map(str, lines[:12])) + (f" (+{len(lines) - 12} more)" if len(lines) > 12 else "")
        note = f" [one root cause: {len(group_)} findings ({', '.join(rules)}) at lines {shown}]"
        out.append(Finding(file, head.line, head.rule, severity, head.resource, message + note))
    return out


@check_family("cfn-lint", "template", emits=("cfn-lint/*",))
def lint_template(template: Template, resolver: Resolver, spec: GateSpec) -> list[Finding]:
    """cfn-lint in the spec's region (``AWS::Region`` among its parameters, else us-east-1)."""
    if not template.lintable:
        return []
    return group(cfn_lint(template, str(spec.parameters.get("AWS::Region", "us-east-1"))))
