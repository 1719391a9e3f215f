"""The gate report as SARIF 2.1.0 for code scanning: ``to_sarif`` and the ``SarifSink`` file output.

SARIF is written as plain JSON: the subset code scanning reads (tool.driver.rules,
results with ruleId/level/message/physicalLocation) is small, and the object-model
package (sarif-om) would add a dependency without removing any of this code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import __version__
from harness.evidence.sinks import SinkContext
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
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            {"level": "note", "message": {"text": f"skipped (not a gate input): {path}"}}
                            for path in report.skipped
                        ],
                    }
                ],
            }
        ],
    }


def sarif_text(report: GateReport) -> str:
    """The SARIF document as indented JSON (``drill gate --format sarif`` adds a final newline)."""
    return json.dumps(to_sarif(report), indent=2)


@dataclass(frozen=True)
class SarifSink:
    """Writes ``<stem>.sarif`` into the context's directory (the gate lane's ``sarif`` step)."""

    stem: str
    name = "sarif"

    def write(self, report: GateReport, context: SinkContext) -> Path:
        context.directory.mkdir(parents=True, exist_ok=True)
        path = context.directory / f"{self.stem}.sarif"
        path.write_text(sarif_text(report), encoding="utf-8")
        return path
