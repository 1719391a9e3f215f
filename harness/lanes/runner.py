"""The step runner: the one place that runs a lane's steps and decides what each one's status is.

Rules, the same for the pytest plugin and for the standalone commands that run a lane
(``drill pg-restore-check``):

* a step whose prerequisite (``StepSpec.needs``, plus ``needs_when`` for the features the lane
  has) did not pass is skipped, never run and never passed, and says which prerequisite;
* ``StepSkipped`` records skipped, ``VerificationFailed`` failed, ``DrillError`` error, any other
  exception error (``unexpected <type>``); Ctrl-C / SIGTERM records error and propagates.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

from harness.errors import DrillError, StepSkipped, VerificationFailed, describe_unexpected, first_line
from harness.evidence import ERROR, FAILED, PASSED, SKIPPED, Evidence
from harness.lanes.base import Lane, StepSpec
from harness.scenario import RunOptions, Scenario

_PAST = {FAILED: "failed", ERROR: "could not run", SKIPPED: "was skipped or not selected"}


def start(cls: type[Lane], scenario: Scenario, options: RunOptions) -> tuple[Lane, Evidence]:
    """A lane for ``scenario`` and the evidence that lists every one of its steps (none run yet)."""
    evidence = Evidence(scenario=scenario.describe())
    for spec in cls.steps:
        evidence.add_step(spec.name, data_proving=spec.data_proving)
    return cls(scenario, options, evidence), evidence


def _blocked(evidence: Evidence, needs: tuple[str, ...]) -> str | None:
    """Why a step with prerequisites ``needs`` may not run, or None when every one passed."""
    for need in needs:
        status = evidence.step(need).status
        if status != PASSED:
            return f"skipped: depends on {need!r}, which {_PAST.get(status, status)}"
    return None


def run_step(lane: Lane, spec: StepSpec, evidence: Evidence) -> BaseException | None:
    """Run one step under the rules above; its record says what happened.

    Returns the exception that failed the step (None when it passed or was skipped), so a caller
    that reports failures (pytest) can raise it."""
    record = evidence.step(spec.name)
    blocked = _blocked(evidence, spec.needs)
    if blocked is not None:
        record.message = blocked
        return None
    with evidence.timed(spec.name) as record:
        try:
            conditional = tuple(step for feature, step in spec.needs_when if lane.has(feature))
            blocked = _blocked(evidence, conditional)
            if blocked is not None:
                record.message = blocked
                return None
            record.message = lane.runner(spec.name)()
            record.status = PASSED
        except StepSkipped as exc:
            record.status, record.message = SKIPPED, f"skipped: {exc}"
        except VerificationFailed as exc:
            record.status, record.message = FAILED, str(exc)
            return exc
        except DrillError as exc:
            record.status, record.message = ERROR, str(exc)
            return exc
        except KeyboardInterrupt:
            record.status, record.message = ERROR, "interrupted"
            raise
        except Exception as exc:
            record.status, record.message = ERROR, describe_unexpected(exc)
            return exc
    return None


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ignore SIGTERM and SIGINT for the block (main thread only): a second cancellation while
    services stop must not cost the evidence of the run it cancelled."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def finish(lane: Lane, evidence: Evidence) -> dict[str, Any]:
    """Stop the lane's services (by its verdict) and return the finished evidence document; further
    interrupts wait until that is done."""
    with interrupts_deferred():
        try:
            lane.close(evidence.verdict()[0])
        except Exception as exc:  # evidence must still be written
            sys.stderr.write(f"drill: stopping services for {lane.scenario.path} failed: {first_line(exc)}\n")
        evidence.sections.update(lane.sections())
        return evidence.finish()


def run_lane(lane: Lane, evidence: Evidence) -> dict[str, Any]:
    """Run every step in order, close the lane and return the evidence document. An interrupt
    (Ctrl-C, SIGTERM) stops the steps; the evidence records it (verdict error) and is still returned."""
    try:
        for spec in lane.steps:
            run_step(lane, spec, evidence)
    except KeyboardInterrupt:
        pass  # run_step recorded the interrupted step as an error
    return finish(lane, evidence)
