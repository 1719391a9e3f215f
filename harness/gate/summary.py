"""The gate report as plain text (the CLI's default) and as Markdown (job summary, ``GateMarkdownSink``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.evidence.sinks import SinkContext

if TYPE_CHECKING:
    from harness.gate.runner import GateReport


def skipped_note(report: GateReport) -> str:
    """One line naming the directory entries that were neither templates, workflows nor Terraform."""
    if not report.skipped:
        return ""
    return f"note: skipped {len(report.skipped)} file(s) that are not gate inputs: " + ", ".join(
        report.skipped
    )


def to_text(report: GateReport) -> str:
    lines = [str(f) for f in report.findings]
    if report.skipped:
        lines.append(skipped_note(report))
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
    if report.skipped:
        out += ["", skipped_note(report)]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class GateMarkdownSink:
    """Writes ``<stem>.md`` beside the SARIF file."""

    stem: str
    name = "markdown"

    def write(self, report: GateReport, context: SinkContext) -> Path:
        path = context.directory / f"{self.stem}.md"
        path.write_text(to_markdown(report), encoding="utf-8")
        return path
