"""Runs that go wrong on purpose: interrupts while services stop, crashes inside a step, and the
verdict and Markdown that must never make a failure look like a pass."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from harness.errors import describe_unexpected
from harness.evidence import ERROR, FAILED, PASSED, SKIPPED, Evidence
from harness.evidence.sinks.markdown import render_markdown
from harness.lanes.base import Lane, StepSpec
from harness.lanes.runner import run_lane, start
from harness.scenario import RunOptions, Scenario


class _Lane(Lane):
    steps: ClassVar = (
        StepSpec("first", data_proving=True),
        StepSpec("crash", needs=("first",)),
        StepSpec("after", data_proving=True, needs=("crash",)),
    )
    closed = False

    def step_first(self) -> str:
        return "ok"

    def step_crash(self) -> str:
        secret_value = "hunter2-" + "x" * 10
        raise KeyError(secret_value)  # a message quoting a value

    def step_after(self) -> str:
        return "never runs"

    def close(self, verdict: str) -> None:
        # A second cancellation arrives while services stop: it must not cost the evidence.
        os.kill(os.getpid(), signal.SIGTERM)
        type(self).closed = True
        super().close(verdict)


def _scenario(tmp_path: Path) -> Scenario:
    data = {"scenario_version": 1, "name": "hostile", "lane": "test"}
    return Scenario(tmp_path / "hostile.yaml", "hostile", "test", data, "0" * 64)


def test_a_sigterm_while_services_stop_still_yields_the_evidence(tmp_path: Path) -> None:
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        lane, evidence = start(_Lane, _scenario(tmp_path), RunOptions(work_dir=tmp_path / "w"))
        doc = run_lane(lane, evidence)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert _Lane.closed
    assert doc["verdict"] == "error"
    steps = {s["name"]: s for s in doc["steps"]}
    assert steps["first"]["status"] == PASSED
    assert steps["crash"]["status"] == ERROR
    assert steps["after"]["status"] == SKIPPED and "depends on 'crash'" in steps["after"]["message"]


def test_an_unexpected_exception_is_one_line_with_its_place_and_no_value(tmp_path: Path) -> None:
    lane, evidence = start(_Lane, _scenario(tmp_path), RunOptions(work_dir=tmp_path / "w"))
    _Lane.close = Lane.close  # type: ignore[method-assign]  # no signal in this test
    try:
        doc = run_lane(lane, evidence)
    finally:
        del _Lane.close
    message = next(s["message"] for s in doc["steps"] if s["name"] == "crash")
    # The raise is in this test's lane; the last harness frame is where the runner called it.
    assert message.startswith("unexpected KeyError at harness/lanes/runner.py:"), message
    assert "hunter2" not in message and "\n" not in message


def test_describe_unexpected_names_the_harness_frame(tmp_path: Path) -> None:
    from harness.files import replace_json

    with pytest.raises(FileNotFoundError) as info:
        replace_json(tmp_path / "no-such-dir" / "x.json", {"password": "hunter2"})
    text = describe_unexpected(info.value)
    assert text.startswith("unexpected FileNotFoundError at harness/files.py:")
    assert "a bug in drill-harness" in text and "hunter2" not in text and "no-such-dir" not in text


def _evidence(*steps: tuple[str, bool, str]) -> dict[str, Any]:
    evidence = Evidence(scenario={"name": "m", "file": "m.yaml", "lane": "x", "sha256": "sha256:" + "0" * 64})
    for name, proving, status in steps:
        record = evidence.add_step(name, data_proving=proving)
        record.status, record.message = status, f"{name} said {status}"
    return evidence.finish()


@pytest.mark.parametrize(
    ("steps", "verdict", "blamed"),
    [
        ((("a", True, PASSED), ("b", False, ERROR), ("c", True, FAILED)), "error", "b"),
        ((("a", False, ERROR), ("b", True, PASSED)), "error", "a"),
        ((("a", True, PASSED), ("b", True, FAILED), ("c", True, PASSED)), "failed", "b"),
        ((("a", True, PASSED), ("b", False, SKIPPED)), "verified", None),
        ((("a", False, PASSED), ("b", True, SKIPPED)), "failed", None),
    ],
)
def test_the_verdict_blames_the_step_that_broke_never_a_passed_one(
    steps: tuple[tuple[str, bool, str], ...], verdict: str, blamed: str | None
) -> None:
    doc = _evidence(*steps)
    assert doc["verdict"] == verdict
    if blamed is not None:
        assert doc["reason"].startswith(f"step {blamed!r}")
        assert f"{blamed} said" in doc["reason"]
    passed = [name for name, _, status in steps if status == PASSED]
    if verdict != "verified":
        assert not any(doc["reason"].startswith(f"step {name!r}") for name in passed)


def test_markdown_marks_every_status_as_what_it_is() -> None:
    doc = _evidence(
        ("ok", True, PASSED), ("bad", True, FAILED), ("broke", False, ERROR), ("later", False, SKIPPED)
    )
    doc["measurements"]["rto"].update(measured_seconds=5.0, objective_seconds=1.0, met=False)
    doc["measurements"]["rpo"].update(measured_seconds=1.0, objective_seconds=5.0, met=True)
    lines = {
        line.split("|")[1].strip(): line
        for line in render_markdown(doc).splitlines()
        if line.startswith("| ")
    }
    assert "passed" in lines["ok"] and "failed" not in lines["ok"]
    assert "failed" in lines["bad"] and "passed" not in lines["bad"]
    assert "error" in lines["broke"] and "passed" not in lines["broke"]
    assert "skipped" in lines["later"] and "passed" not in lines["later"]
    text = render_markdown(doc)
    assert "RTO measured: 5.0s (objective 1.0s, met: NO)" in text
    assert "RPO (backup age): 1.0s (objective 5.0s, met: yes)" in text
    assert "**ERROR**" in text.splitlines()[0]
