"""Evidence sinks: the registry loads, the JSON comes first, a failing later sink keeps it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.evidence import PASSED, Evidence, StepRecord, sinks, verdict_of, write_evidence
from harness.evidence.sinks import SINKS, SinkContext


class BrokenSink:
    name = "broken"

    def write(self, doc: dict[str, Any], context: SinkContext) -> Path:
        raise OSError("the chat service is down")


def test_every_registered_sink_loads_under_its_name() -> None:
    assert next(iter(SINKS)) == "json"
    for name in SINKS:
        assert sinks.sink(name).name == name


def test_a_failing_later_sink_keeps_the_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SINKS, "broken", "tests.test_evidence_sinks:BrokenSink")
    ev = Evidence(scenario={"name": "unit", "file": "unit.yaml", "lane": "portable-export"})
    ev.add_step("validate", data_proving=True).status = PASSED
    doc = ev.finish()
    with pytest.raises(OSError, match="chat service"):
        write_evidence(doc, tmp_path)
    (json_path,) = tmp_path.glob("*.json")
    assert json.loads(json_path.read_text()) == doc


def test_verdict_is_a_function_of_the_step_records() -> None:
    steps = [StepRecord("export", False, PASSED), StepRecord("validate", True, PASSED)]
    assert verdict_of(steps)[0] == "verified"
    assert verdict_of(steps[:1]) == ("failed", "no data-proving check passed, so nothing was verified")
