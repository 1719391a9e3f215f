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


def test_the_summary_shows_freshness_and_how_the_rpo_was_measured() -> None:
    from harness.evidence.sinks.markdown import render_markdown

    ev = Evidence(scenario={"name": "unit", "file": "unit.yaml", "lane": "pitr-archive"})
    ev.add_step("heartbeat", data_proving=True).status = PASSED
    beat = {
        "table": "app_heartbeat",
        "column": "at",
        "newest": "2026-12-01T09:59:00Z",
        "reference": "2026-12-01T10:00:00Z",
        "reference_means": "recovery target",
        "rpo_seconds": 60.0,
    }
    ev.sections["measurements"] = {
        "rto": {"measured_seconds": 12.0, "objective_seconds": 14400, "met": True},
        "rpo": {
            "measured_seconds": 60.0,
            "objective_seconds": 3600,
            "met": True,
            "method": "heartbeat",
            "heartbeat": beat,
        },
        "freshness": {
            "backup": "pgBackRest backup 20261201-020000F (stanza main)",
            "backup_time": "2026-12-01T02:00:00Z",
            "measured_at": "2026-12-01T10:00:00Z",
            "age_seconds": 28800.0,
            "max_age_seconds": 90000,
            "met": True,
        },
    }
    doc = ev.finish()
    from harness.evidence import validate_evidence

    validate_evidence(doc)
    text = render_markdown(doc)
    assert "- RPO (measured, newest heartbeat in `app_heartbeat` at 2026-12-01T09:59:00Z): 60.0s" in text
    assert (
        "- Freshness: newest backup `pgBackRest backup 20261201-020000F (stanza main)` taken "
        "2026-12-01T02:00:00Z, 28800.0s old (max 90000.0s, met: yes)"
    ) in text
    doc["measurements"]["rpo"] = {
        "measured_seconds": 5.0,
        "objective_seconds": None,
        "met": None,
        "method": "bound",
    }
    del doc["measurements"]["freshness"]
    text = render_markdown(doc)
    assert "- RPO (backup age): 5.0s" in text and "Freshness" not in text
