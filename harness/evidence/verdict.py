"""The verdict rule (R4), a pure function over step records.

``error`` if any step could not run, ``failed`` if any step failed, ``verified`` only when
every step that ran passed *and* at least one data-proving step passed; otherwise ``failed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from harness.errors import EXIT_COULD_NOT_RUN, EXIT_NOT_VERIFIED, EXIT_VERIFIED

# The step statuses live with the rule that judges them, so ``record`` can use the rule without a cycle.
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
VERDICT_EXIT = {"verified": EXIT_VERIFIED, "failed": EXIT_NOT_VERIFIED, "error": EXIT_COULD_NOT_RUN}


class StepOutcome(Protocol):
    """What the rule reads of a step (``record.StepRecord`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def data_proving(self) -> bool: ...
    @property
    def message(self) -> str: ...


def verdict_of(steps: Sequence[StepOutcome]) -> tuple[str, str]:
    """The verdict (``verified``, ``failed`` or ``error``) of ``steps`` and the reason for it."""
    for status, verdict, what in ((ERROR, "error", "could not run"), (FAILED, "failed", "failed")):
        bad = next((s for s in steps if s.status == status), None)
        if bad is not None:
            return verdict, f"step {bad.name!r} {what}: {bad.message}"
    proving = [s.name for s in steps if s.status == PASSED and s.data_proving]
    if not proving:
        return "failed", "no data-proving check passed, so nothing was verified"
    return "verified", f"all steps that ran passed; data-proving checks: {', '.join(proving)}"
