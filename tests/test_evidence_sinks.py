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


def test_a_failing_later_sink_warns_and_keeps_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(SINKS, "broken", "tests.test_evidence_sinks:BrokenSink")
    monkeypatch.setitem(SINKS, "unloadable", "tests.no_such_module:Sink")
    ev = Evidence(scenario={"name": "unit", "file": "unit.yaml", "lane": "portable-export"})
    ev.add_step("validate", data_proving=True).status = PASSED
    doc = ev.finish()
    json_path, md_path = write_evidence(doc, tmp_path)
    assert json.loads(json_path.read_text()) == doc
    assert md_path is not None and md_path.exists()
    err = capsys.readouterr().err
    assert "sink 'broken' failed: the chat service is down; the verdict is unchanged" in err
    assert "sink 'unloadable' failed" in err


def test_the_json_sink_alone_may_fail_the_write(tmp_path: Path) -> None:
    doc = Evidence(scenario={"name": "unit", "file": "unit.yaml", "lane": "portable-export"}).finish()
    doc["verdict"] = "fine, probably"
    with pytest.raises(ValueError, match="verdict"):
        write_evidence(doc, tmp_path)


def test_verdict_is_a_function_of_the_step_records() -> None:
    steps = [StepRecord("export", False, PASSED), StepRecord("validate", True, PASSED)]
    assert verdict_of(steps)[0] == "verified"
    assert verdict_of(steps[:1]) == ("failed", "no data-proving check passed, so nothing was verified")
