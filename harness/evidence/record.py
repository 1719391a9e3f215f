"""The evidence record: a drill run's steps and sections; ``finish()`` builds the scrubbed document.

Steps that depend on a failed step are recorded as ``skipped``, never passed; the verdict
rule is ``harness.evidence.verdict``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from harness import __version__
from harness.clock import utc_iso
from harness.evidence.scrub import scrub_secrets
from harness.evidence.verdict import SKIPPED, VERDICT_EXIT, verdict_of


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
        return verdict_of(self.steps)

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
            "previous_evidence": None,  # set by the ledger link when the document is written
            "measurements": {
                "rto": {"measured_seconds": None, "objective_seconds": None, "met": None},
                "rpo": {"measured_seconds": None, "objective_seconds": None, "met": None},
            },
        }
        doc.update(self.sections)
        scrubbed: dict[str, Any] = scrub_secrets(doc)
        return scrubbed
