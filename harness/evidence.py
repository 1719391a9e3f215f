"""Restore evidence: one JSON document per drill run, plus a Markdown summary.

The verdict rule (R4): ``error`` if any step could not run, ``failed`` if any
step failed, ``verified`` only when every step that ran passed *and* at least
one data-proving step passed; otherwise ``failed``. Steps that depend on a
failed step are recorded as ``skipped``, never passed.

Evidence is validated against ``harness/schemas/evidence.schema.json``,
scrubbed of anything the secret scanner recognises, and written through a
temporary file hard-linked into place, so a file is either complete or absent
and an existing file is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from harness import __version__
from harness.clock import utc_iso
from harness.errors import EXIT_COULD_NOT_RUN, EXIT_NOT_VERIFIED, EXIT_VERIFIED
from harness.files import write_once
from harness.schema_check import best_error, error_path, package_validator
from harness.secrets import scan_text

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
VERDICT_EXIT = {"verified": EXIT_VERIFIED, "failed": EXIT_NOT_VERIFIED, "error": EXIT_COULD_NOT_RUN}
REDACTED = "[redacted: looked like a secret]"


def trigger_from_env() -> dict[str, Any]:
    """How this run was started, from the GitHub Actions environment (``local`` elsewhere)."""
    event = os.environ.get("GITHUB_EVENT_NAME")
    return {
        "kind": event or "local",
        "ci_run_id": os.environ.get("GITHUB_RUN_ID"),
        "repository": os.environ.get("GITHUB_REPOSITORY"),
        "ref": os.environ.get("GITHUB_REF"),
    }


@dataclass
class StepRecord:
    name: str
    data_proving: bool
    status: str = SKIPPED
    started_at: str | None = None
    seconds: float = 0.0
    message: str = "not run"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "data_proving": self.data_proving,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "message": self.message,
        }


@dataclass
class Evidence:
    """Collects a drill run's facts; ``finish()`` decides the verdict."""

    scenario: dict[str, Any]
    run_id: str = field(default_factory=lambda: secrets.token_hex(8))
    started_at: str = field(default_factory=partial(utc_iso, micro=True))
    steps: list[StepRecord] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)
    _clock: float = field(default_factory=time.perf_counter, repr=False)

    def add_step(self, name: str, *, data_proving: bool) -> StepRecord:
        step = StepRecord(name, data_proving)
        self.steps.append(step)
        return step

    def step(self, name: str) -> StepRecord:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    @contextlib.contextmanager
    def timed(self, name: str) -> Any:
        step = self.step(name)
        step.started_at = utc_iso(micro=True)
        began = time.perf_counter()
        try:
            yield step
        finally:
            step.seconds = time.perf_counter() - began

    def elapsed(self) -> float:
        return time.perf_counter() - self._clock

    def verdict(self) -> tuple[str, str]:
        statuses = [s.status for s in self.steps]
        if ERROR in statuses:
            bad = next(s for s in self.steps if s.status == ERROR)
            return "error", f"step {bad.name!r} could not run: {bad.message}"
        if FAILED in statuses:
            bad = next(s for s in self.steps if s.status == FAILED)
            return "failed", f"step {bad.name!r} failed: {bad.message}"
        proving = [s.name for s in self.steps if s.status == PASSED and s.data_proving]
        if not proving:
            return "failed", "no data-proving check passed, so nothing was verified"
        return "verified", f"all steps that ran passed; data-proving checks: {', '.join(proving)}"

    def finish(self) -> dict[str, Any]:
        verdict, reason = self.verdict()
        doc: dict[str, Any] = {
            "evidence_format_version": "1",
            "run_id": self.run_id,
            "harness_version": __version__,
            "scenario": self.scenario,
            "trigger": trigger_from_env(),
            "started_at": self.started_at,
            "finished_at": utc_iso(micro=True),
            "verdict": verdict,
            "exit_code": VERDICT_EXIT[verdict],
            "reason": reason,
            "steps": [s.to_dict() for s in self.steps],
            "source": {},
            "target": {"environment": "none"},
            "measurements": {
                "rto": {"measured_seconds": None, "objective_seconds": None, "met": None},
                "rpo": {"measured_seconds": None, "objective_seconds": None, "met": None},
            },
        }
        doc.update(self.sections)
        scrubbed: dict[str, Any] = scrub_secrets(doc)
        return scrubbed


def scrub_secrets(value: Any) -> Any:
    """Replace any string the secret scanner recognises. Evidence must never carry a secret."""
    if isinstance(value, dict):
        return {k: scrub_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_secrets(v) for v in value]
    if isinstance(value, str) and scan_text(value):
        return REDACTED
    return value


def validate_evidence(doc: dict[str, Any]) -> None:
    error = best_error(package_validator("evidence.schema.json"), doc)
    if error is not None:
        raise ValueError(f"evidence does not match its schema at {error_path(error)}: {error.message}")


def write_evidence(doc: dict[str, Any], reports_dir: Path) -> tuple[Path, Path]:
    """Validate and write ``<scenario>-<time>-<run>.json`` and ``.md``; returns both paths."""
    validate_evidence(doc)
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = doc["finished_at"][:19].replace("-", "").replace(":", "") + "Z"
    base = f"{safe_name(doc['scenario']['name'])}-{stamp}-{doc['run_id']}"
    json_path = reports_dir / f"{base}.json"
    md_path = reports_dir / f"{base}.md"
    write_once(json_path, orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    markdown = render_markdown(doc, json_path)
    write_once(md_path, markdown.encode())
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    return json_path, md_path


def safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return cleaned[:80] or "drill"


_STATUS_MARK = {PASSED: "✅ passed", FAILED: "❌ failed", ERROR: "⛔ error", SKIPPED: "⏭ skipped"}


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
    lines += [
        "",
        f"- RTO measured: {_fmt_seconds(rto['measured_seconds'])} "
        f"(objective {_fmt_seconds(rto['objective_seconds'])}, met: {_fmt_met(rto['met'])})",
        f"- RPO (backup age): {_fmt_seconds(rpo['measured_seconds'])} "
        f"(objective {_fmt_seconds(rpo['objective_seconds'])}, met: {_fmt_met(rpo['met'])})",
    ]
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
