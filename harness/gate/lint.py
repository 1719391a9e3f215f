"""cfn-lint as part of the gate: its matches become ``cfn-lint/<rule id>`` findings.

cfn-lint is imported only when a template has to be linted (its import alone is ~450 ms:
sympy, networkx). Results are cached by content: the key is the SHA-256 of cfn-lint's
version, the region and the template's bytes, so a template that did not change in a pull
request is not linted again (:mod:`harness.gate.cache`; ``DRILL_GATE_CACHE=off`` disables
it). Only cfn-lint's findings are cached; every gate rule is evaluated on every run.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.gate.cache import cache_dir, write_atomic
from harness.gate.checks import check_family
from harness.gate.findings import SEVERITIES, Finding
from harness.gate.spec import GateSpec
from harness.gate.templates import Resolver, Template

_SEVERITY = {"E": "error", "W": "warning", "I": "note"}


@lru_cache(maxsize=8)
def _runner(region: str) -> Any:
    from cfnlint.api import Runner  # type: ignore[import-untyped]
    from cfnlint.config import ConfigMixIn  # type: ignore[import-untyped]

    return Runner(ConfigMixIn(regions=[region]))


@lru_cache(maxsize=1)
def _version() -> str:
    from importlib.metadata import version

    return version("cfn-lint")


def _key(path: Path, region: str) -> str:
    digest = hashlib.sha256(f"cfn-lint {_version()} {region}\n".encode())
    digest.update(path.read_bytes())
    return "cfn-lint-" + digest.hexdigest()


def _from_cache(directory: Path | None, key: str, path: Path) -> list[Finding] | None:
    if directory is None:
        return None
    entry = directory / f"{key}.json"  # cfn-lint-<sha256>.json
    try:
        rows = json.loads(entry.read_text(encoding="utf-8"))
        return [Finding(str(path), int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]
    except (OSError, ValueError, TypeError, IndexError):
        return None  # missing or unreadable: lint again


def _to_cache(directory: Path | None, key: str, findings: list[Finding]) -> None:
    if directory is not None:
        rows = [[f.line, f.rule, f.severity, f.resource, f.message] for f in findings]
        write_atomic(directory / f"{key}.json", json.dumps(rows))


def cfn_lint(template: Template, region: str) -> list[Finding]:
    """Every default cfn-lint rule on the template file (in-process, one rule load per region)."""
    directory = cache_dir()
    key = _key(template.path, region)
    cached = _from_cache(directory, key, template.path)
    if cached is not None:
        return cached
    from cfnlint.decode import decode  # type: ignore[import-untyped]

    data, matches = decode(str(template.path))
    if data is None or matches:
        found = [_finding(template.path, m) for m in matches or []]
    else:
        found = [_finding(template.path, m) for m in _runner(region).validate_template(data)]
    _to_cache(directory, key, found)
    return found


def _finding(path: Path, match: Any) -> Finding:
    rule_id = str(match.rule.id)
    in_resource = len(match.path or []) > 1 and match.path[0] == "Resources"
    return Finding(
        file=str(path),
        line=int(match.linenumber or 1),
        rule=f"cfn-lint/{rule_id}",
        severity=_SEVERITY.get(rule_id[:1], "warning"),
        resource=str(match.path[1]) if in_resource else "",
        message=str(match.message),
    )


def group(findings: list[Finding]) -> list[Finding]:
    """One finding per root cause: cfn-lint findings of one file with the same message (an undefined
    parameter is reported once per reference, by several rules) become one, at the first line, with
    the highest severity and the other rules and lines named."""
    by_cause: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        by_cause.setdefault((f.file, f.message), []).append(f)
    out: list[Finding] = []
    for (file, message), members in by_cause.items():
        if len(members) == 1:
            out.extend(members)
            continue
        members.sort(key=lambda f: (f.line, f.rule))
        head = members[0]
        severity = min((f.severity for f in members), key=SEVERITIES.index)
        rules = sorted({f.rule.removeprefix("cfn-lint/") for f in members})
        lines = sorted({f.line for f in members})
        shown = ", ".join(map(str, lines[:12])) + (f" (+{len(lines) - 12} more)" if len(lines) > 12 else "")
        note = f" [one root cause: {len(members)} findings ({', '.join(rules)}) at lines {shown}]"
        out.append(Finding(file, head.line, head.rule, severity, head.resource, message + note))
    return out


@check_family("cfn-lint", "template", emits=("cfn-lint/*", "GATE001"))
def lint_template(template: Template, resolver: Resolver, spec: GateSpec) -> list[Finding]:
    """cfn-lint in the spec's region (``AWS::Region`` among its parameters, else us-east-1).

    Also the family of ``GATE001``: a template the gate's decoder cannot read is reported
    while loading it, and never reaches this check.
    """
    if not template.lintable:
        return []
    return group(cfn_lint(template, str(spec.parameters.get("AWS::Region", "us-east-1"))))
