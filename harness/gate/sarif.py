"""Report formats: SARIF 2.1.0 for code scanning, Markdown for the job summary, plain text.

SARIF is written as plain JSON: the subset code scanning reads (tool.driver.rules,
results with ruleId/level/message/physicalLocation) is small, and the object-model
package (sarif-om) would add a dependency without removing any of this code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import __version__
from harness.gate.findings import describe
from harness.gate.runner import GateReport, category

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def _uri(file: str, base: Path | None) -> str:
    path = Path(file)
    if base is not None and path.is_absolute():
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def to_sarif(report: GateReport, base: Path | None = None) -> dict[str, Any]:
    base = base or Path.cwd()
    rule_ids = sorted({f.rule for f in report.findings})
    rules = []
    for rule_id in rule_ids:
        rule = describe(rule_id)
        rules.append(
            {
                "id": rule_id,
                "name": rule.name,
                "shortDescription": {"text": rule.summary},
                "defaultConfiguration": {"level": _LEVEL.get(rule.severity, "warning")},
                "properties": {"category": category(rule_id)},
            }
        )
    results = [
        {
            "ruleId": f.rule,
            "ruleIndex": rule_ids.index(f.rule),
            "level": _LEVEL.get(f.severity, "warning"),
            "message": {"text": f"{f.resource}: {f.message}" if f.resource else f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.file, base)},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
        }
        for f in report.findings
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "drill-gate",
                        "version": __version__,
                        "informationUri": "https://github.com/drill-harness/drill-harness/blob/main/docs/gate.md",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }


def to_text(report: GateReport) -> str:
    lines = [str(f) for f in report.findings]
    verdict = "PASSED" if report.passed else f"FAILED ({len(report.failing())} failing finding(s))"
    lines.append(
        f"drill gate: {len(report.templates)} template(s), {len(report.workflows)} workflow(s), "
        f"{len(report.findings)} finding(s) in {report.seconds:.2f}s — {verdict}"
    )
    return "\n".join(lines)


def to_markdown(report: GateReport) -> str:
    icon = "✅" if report.passed else "❌"
    out = [
        f"## {icon} Least-privilege gate: {'passed' if report.passed else 'failed'}",
        "",
        f"{len(report.templates)} template(s), {len(report.workflows)} workflow(s), "
        f"roles evaluated: {', '.join(report.roles_evaluated) or 'none'}; {report.seconds:.2f}s.",
        "",
    ]
    if report.findings:
        out += ["| Severity | Rule | File:line | Resource | Message |", "|---|---|---|---|---|"]
        for f in report.findings:
            msg = f.message.replace("|", "\\|").replace("\n", " ")
            out.append(f"| {f.severity} | `{f.rule}` | `{f.file}:{f.line}` | {f.resource} | {msg} |")
    else:
        out.append("No findings.")
    return "\n".join(out) + "\n"
