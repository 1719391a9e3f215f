"""The Markdown summary of an evidence document, written beside the JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.evidence.sinks import SinkContext, evidence_stem
from harness.evidence.verdict import ERROR, FAILED, PASSED, SKIPPED
from harness.files import write_once

_STATUS_MARK = {PASSED: "✅ passed", FAILED: "❌ failed", ERROR: "⛔ error", SKIPPED: "⏭ skipped"}


class MarkdownSink:
    name = "markdown"

    def write(self, doc: dict[str, Any], context: SinkContext) -> Path:
        path = context.directory / f"{evidence_stem(doc)}.md"
        write_once(path, render_markdown(doc, context.written.get("json")).encode())
        return path


def render_markdown(doc: dict[str, Any], json_path: Path | None = None) -> str:
    """A job-summary-sized Markdown view of an evidence document."""
    lines = [
        f"## Drill `{doc['scenario']['name']}`: **{doc['verdict'].upper()}** (exit {doc['exit_code']})",
        "",
        doc["reason"],
        "",
        "| step | status | data-proving | seconds | detail |",
        "|---|---|---|---:|---|",
    ]
    for step in doc["steps"]:
        detail = step["message"].replace("|", "\\|").replace("\n", " ")[:160]
        lines.append(
            f"| {step['name']} | {_STATUS_MARK.get(step['status'], step['status'])} | "
            f"{'yes' if step['data_proving'] else 'no'} | {step['seconds']:.2f} | {detail} |"
        )
    rto, rpo = doc["measurements"]["rto"], doc["measurements"]["rpo"]
    beat = rpo.get("heartbeat")
    how = (
        f"measured, newest heartbeat in `{beat['table']}` at {beat['newest']}"
        if rpo.get("method") == "heartbeat" and beat
        else "backup age"
    )
    lines += [
        "",
        f"- RTO measured: {_fmt_seconds(rto['measured_seconds'])} "
        f"(objective {_fmt_seconds(rto['objective_seconds'])}, met: {_fmt_met(rto['met'])})",
        f"- RPO ({how}): {_fmt_seconds(rpo['measured_seconds'])} "
        f"(objective {_fmt_seconds(rpo['objective_seconds'])}, met: {_fmt_met(rpo['met'])})",
    ]
    fresh = doc["measurements"].get("freshness")
    if fresh:
        lines.append(
            f"- Freshness: newest backup `{fresh['backup']}` taken {fresh['backup_time']}, "
            f"{_fmt_seconds(fresh['age_seconds'])} old (max {_fmt_seconds(fresh['max_age_seconds'])}, "
            f"met: {_fmt_met(fresh['met'])})"
        )
    validation = doc.get("validation")
    if validation:
        lines.append(
            f"- Validation: {validation['records_checked']} records, {validation['finding_count']} finding(s)"
        )
        for finding in validation["findings"][:10]:
            lines.append(
                f"  - `{finding['rule']}` {finding['file']}:{finding['line']} "
                f"record {finding['record_id']}: {finding['message']}"
            )
    dry = doc.get("dry_run")
    if dry:
        lines.append(
            f"- Dry run: would insert {dry['would_insert']}, update {dry['would_update']}, "
            f"skip {dry['skipped']}, invalid {dry['invalid']}; zero writes proven: "
            f"{dry['zero_write_proof']['proven']}"
        )
    if json_path is not None:
        lines += ["", f"Evidence: `{json_path}`"]
    return "\n".join(lines) + "\n"


def _fmt_seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}s"


def _fmt_met(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "NO")
