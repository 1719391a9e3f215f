"""Restore evidence: one JSON document per drill run, plus a Markdown summary.

``record`` collects a run's facts and builds the document, ``verdict`` is the verdict rule,
``scrub`` keeps secrets out, ``schema`` validates, and ``sinks`` write the document out (the
validated JSON through a temporary file hard-linked into place, so a file is either complete
or absent and an existing file is never overwritten; the Markdown beside it; the job summary).
"""

from __future__ import annotations

from harness.evidence.record import Evidence, StepRecord, trigger_from_env
from harness.evidence.schema import validate_evidence
from harness.evidence.scrub import REDACTED, scrub_secrets
from harness.evidence.sinks import write_evidence
from harness.evidence.sinks.markdown import render_markdown
from harness.evidence.verdict import ERROR, FAILED, PASSED, SKIPPED, VERDICT_EXIT, verdict_of

__all__ = [
    "ERROR",
    "FAILED",
    "PASSED",
    "REDACTED",
    "SKIPPED",
    "VERDICT_EXIT",
    "Evidence",
    "StepRecord",
    "render_markdown",
    "scrub_secrets",
    "trigger_from_env",
    "validate_evidence",
    "verdict_of",
    "write_evidence",
]
