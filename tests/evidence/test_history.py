"""History table, chart and the RTO forecast at production size, with its trend against the objective."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.evidence.forecast import forecast, trend
from harness.evidence.sinks import SinkSettings
from tests.evidence.conftest import weekly


def with_production(doc: dict[str, Any], rows: int) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["scenario"]["production"] = {"rows": rows}
    return out


def test_forecast_scales_the_restore_stages_and_keeps_fixed_overhead(real_docs: Any) -> None:
    doc = with_production(real_docs["portable-export"], 0)
    drilled = sum(doc["source"]["manifest"]["entity_counts"].values())
    doc["scenario"]["production"] = {"rows": drilled * 50}
    restore_steps = {"fetch", "extract", "validate", "dry-run", "restore", "smoke"}
    stage_seconds = sum(s["seconds"] for s in doc["steps"] if s["name"] in restore_steps)
    measured = doc["measurements"]["rto"]["measured_seconds"]
    predicted = forecast(doc)
    assert predicted is not None and predicted.basis == "rows" and predicted.scale == 50
    assert predicted.seconds == pytest.approx(max(measured - stage_seconds, 0) + 50 * stage_seconds)
    assert set(predicted.throughput) <= restore_steps
    assert predicted.throughput["restore"] == pytest.approx(
        drilled / next(s["seconds"] for s in doc["steps"] if s["name"] == "restore")
    )
    assert predicted.exceeds is False  # objective 4h
    doc["scenario"]["production"] = {"bytes": doc["source"]["archive"]["size_bytes"] * 10**7}
    big = forecast(doc)
    assert big is not None and big.basis == "bytes" and big.exceeds is True
    assert forecast(real_docs["portable-export"]) is None  # no production size declared: no forecast


def test_trend_flags_a_forecast_heading_for_the_objective() -> None:
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    rising = [(t0 + timedelta(days=7 * i), 1000.0 + 700 * i) for i in range(6)]  # +100 s/day
    fitted = trend(rising, 14400)
    assert fitted is not None and fitted.slope_per_day == pytest.approx(100)
    assert fitted.crosses_at == rising[-1][0] + timedelta(days=99)  # (14400 - 4500) / 100
    assert not fitted.flagged  # beyond the 90-day horizon
    steep = trend([(t, 2 * v - 1000) for t, v in rising], 14400)  # +200 s/day from 8000 s: 32 days
    assert steep is not None and steep.flagged and steep.crosses_at == rising[-1][0] + timedelta(days=32)
    flat = trend([(t0 + timedelta(days=7 * i), 1000.0) for i in range(6)], 14400)
    assert flat is not None and not flat.flagged and flat.crosses_at is None
    over = trend([(t0, 20000.0), (t0 + timedelta(days=7), 20000.0)], 14400)
    assert over is not None and over.flagged
    assert trend(rising[:1], 14400) is None


def test_history_writes_table_json_chart_and_html(
    tmp_path: Path, real_docs: Any, signing: SinkSettings, capsys: Any
) -> None:
    ledger = tmp_path / "ledger"
    weekly(ledger, with_production(real_docs["portable-export"], 5_000_000), 6, signing, fail=[2], skip=[4])
    weekly(ledger, real_docs["snapshot"], 3, signing)
    out = tmp_path / "history"
    assert main(["evidence", "history", "--ledger", str(ledger), "--out", str(out)]) == 0
    markdown = capsys.readouterr().out
    assert "### `portable-export`" in markdown and "### `snapshot`" in markdown
    assert markdown.count("| failed |") == 1 and markdown.count("| verified |") == 7
    assert "RTO forecast at production size (rows" in markdown
    assert "No RTO forecast: declare `production:" in markdown  # snapshot declares none
    data = json.loads((out / "history.json").read_text())
    assert len(data["portable-export"]["rows"]) == 5
    assert data["portable-export"]["summary"]["latest_forecast"]["basis"] == "rows"
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = ET.parse(out / "history.svg").getroot()
    assert svg.tag.endswith("svg")
    assert "<svg" in (out / "history.html").read_text()
