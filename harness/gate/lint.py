"""cfn-lint as part of the gate: its matches become ``cfn-lint/<rule id>`` findings."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cfnlint.api import Runner  # type: ignore[import-untyped]
from cfnlint.config import ConfigMixIn  # type: ignore[import-untyped]

from harness.gate.checks import check_family
from harness.gate.findings import Finding
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


@check_family("cfn-lint", "template", emits=("cfn-lint/*",))
def lint_template(template: Template, resolver: Resolver, spec: GateSpec) -> list[Finding]:
    """cfn-lint in the spec's region (``AWS::Region`` among its parameters, else us-east-1)."""
    if not template.lintable:
        return []
    return cfn_lint(template, str(spec.parameters.get("AWS::Region", "us-east-1")))
