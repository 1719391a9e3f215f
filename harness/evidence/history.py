"""History per scenario: verdict, RTO, RPO, backup age, duration per step and the RTO forecast over time.

``drill evidence history`` writes, into one directory: ``history.md`` (a table per scenario, the
forecast and its trend), ``history.json`` (the same rows), ``history.svg`` and ``history.png`` (a
chart per scenario: measured RTO by verdict, the forecast at production size, the objective; and
the seconds of each step per run) and ``history.html`` (one self-contained file: table and chart).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from harness.evidence.facts import backup_taken_at, objective
from harness.evidence.forecast import forecast, trend
from harness.evidence.ledger import Entry, parse_time

_HEADER = "| finished | verdict | RTO | RPO | backup age | duration | slowest step | RTO forecast |"
_COLOURS = {"verified": "#2e7d32", "failed": "#c62828", "error": "#6d6d6d"}


def _secs(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def rows_of(runs: Sequence[Entry]) -> list[dict[str, Any]]:
    """One row per run (time order): what the table, the JSON and the chart show."""
    rows = []
    for entry in runs:
        doc = entry.doc or {}
        finished = parse_time(doc["finished_at"])
        taken = backup_taken_at(doc)
        predicted = (
            forecast(doc) if doc.get("verdict") == "verified" else None
        )  # a partial run forecasts nothing
        rows.append({
            "file": entry.name,
            "finished_at": doc["finished_at"],
            "verdict": doc.get("verdict"),
            "rto_seconds": _secs(objective(doc, "rto").get("measured_seconds")),
            "rto_objective_seconds": _secs(objective(doc, "rto").get("objective_seconds")),
            "rpo_seconds": _secs(objective(doc, "rpo").get("measured_seconds")),
            "rpo_objective_seconds": _secs(objective(doc, "rpo").get("objective_seconds")),
            "backup_age_seconds": (finished - parse_time(taken)).total_seconds() if taken else None,
            "duration_seconds": (finished - parse_time(doc["started_at"])).total_seconds(),
            "steps": {s["name"]: s["seconds"] for s in doc.get("steps", []) if s.get("status") != "skipped"},
            "forecast": predicted.to_dict() if predicted else None,
        })  # fmt: skip
    return rows


def summary_of(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The forecast trend over the verified runs, judged against the newest objective."""
    points = [
        (parse_time(r["finished_at"]), r["forecast"]["rto_seconds"])
        for r in rows
        if r["forecast"] and r["verdict"] == "verified"
    ]
    goal = next((r["rto_objective_seconds"] for r in reversed(rows) if r["rto_objective_seconds"]), None)
    fitted = trend(points, goal)
    latest = next(
        (r["forecast"] for r in reversed(rows) if r["forecast"] and r["verdict"] == "verified"), None
    )
    return {"latest_forecast": latest, "trend": fitted.to_dict() if fitted else None}


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    size = abs(value)
    return (
        f"{value:.1f}s" if size < 120 else f"{value / 60:.1f}min" if size < 7200 else f"{value / 3600:.1f}h"
    )


def render_markdown(history: dict[str, dict[str, Any]], chart: str | None) -> str:
    lines = ["## Drill history", ""]
    if chart:
        lines += [f"Chart: `{chart}` (beside this file).", ""]
    for scenario, data in sorted(history.items()):
        rows, summary = data["rows"], data["summary"]
        lines += [f"### `{scenario}`", "", _HEADER, "|---|---|---:|---:|---:|---:|---|---:|"]
        for r in rows:
            slow = max(r["steps"].items(), key=lambda kv: kv[1], default=("", 0))
            fc = r["forecast"]
            cells = [
                r["finished_at"][:16].replace("T", " "),
                str(r["verdict"]),
                *(
                    _fmt(r[k])
                    for k in ("rto_seconds", "rpo_seconds", "backup_age_seconds", "duration_seconds")
                ),
                f"{slow[0]} {_fmt(slow[1])}" if slow[0] else "",
                _fmt(fc["rto_seconds"]) if fc else "n/a",
            ]
            lines.append("| " + " | ".join(cells) + " |")
        latest, fitted = summary["latest_forecast"], summary["trend"]
        lines.append("")
        if latest:
            verdict = "**exceeds**" if latest["exceeds_objective"] else "within"
            lines.append(
                f"RTO forecast at production size ({latest['basis']}, x{latest['scale']:g}): "
                f"{_fmt(latest['rto_seconds'])}, {verdict} the objective {_fmt(latest['objective_seconds'])}."
            )
        else:
            lines.append("No RTO forecast: declare `production: {rows, bytes}` in the scenario.")
        if fitted:
            crossing = fitted["crosses_objective_at"]
            lines.append(
                f"Trend: {fitted['slope_seconds_per_day']:+.1f} s/day"
                + (f"; crosses the objective around {crossing[:10]}" if crossing else "")
                + ("; ⚠ **flagged**" if fitted["flagged"] else "")
                + "."
            )
        lines.append("")
    return "\n".join(lines)


def draw(history: dict[str, dict[str, Any]], stem: Path) -> list[Path]:
    """``<stem>.svg`` and ``<stem>.png``: per scenario, RTO over time and seconds per step per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "drill-harness"  # reproducible SVG ids
    names = sorted(history)
    fig, axes = plt.subplots(len(names) or 1, 2, figsize=(12, 3.2 * max(len(names), 1)), squeeze=False)
    for row, scenario in enumerate(names):
        rows = history[scenario]["rows"]
        times = [parse_time(r["finished_at"]) for r in rows]
        ax, bars = axes[row][0], axes[row][1]
        for verdict, colour in _COLOURS.items():
            pts = [
                (t, r["rto_seconds"])
                for t, r in zip(times, rows, strict=True)
                if r["verdict"] == verdict and r["rto_seconds"]
            ]
            if pts:
                ax.scatter(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    color=colour,
                    label=f"RTO measured ({verdict})",
                    zorder=3,
                )
        fc = [(t, r["forecast"]["rto_seconds"]) for t, r in zip(times, rows, strict=True) if r["forecast"]]
        if fc:
            ax.plot(
                [p[0] for p in fc],
                [p[1] for p in fc],
                color="#ef6c00",
                marker=".",
                label="RTO forecast (production size)",
            )
        goal = next((r["rto_objective_seconds"] for r in reversed(rows) if r["rto_objective_seconds"]), None)
        if goal:
            ax.axhline(
                goal, color="#c62828", linestyle="--", linewidth=1, label=f"RTO objective {_fmt(goal)}"
            )
        ax.set_yscale("log")
        ax.set_title(f"{scenario}: recovery time")
        ax.set_ylabel("seconds (log)")
        ax.legend(fontsize=7, loc="best")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        _stacked(bars, rows, times)
        bars.set_title(f"{scenario}: seconds per step")
    fig.tight_layout()
    written = []
    for suffix in (".svg", ".png"):
        path = stem.with_suffix(suffix)
        fig.savefig(path, dpi=100, metadata={"Date": None} if suffix == ".svg" else None)
        written.append(path)
    plt.close(fig)
    return written


def _stacked(ax: Any, rows: Sequence[dict[str, Any]], times: Sequence[datetime]) -> None:
    steps: list[str] = []
    for r in rows:
        steps += [s for s in r["steps"] if s not in steps]
    labels = [t.strftime("%m-%d") for t in times]
    bottom = [0.0] * len(rows)
    colours = __import__("matplotlib").colormaps["tab20"]
    for i, step in enumerate(steps):
        heights = [float(r["steps"].get(step, 0.0)) for r in rows]
        ax.bar(range(len(rows)), heights, bottom=bottom, label=step, color=colours(i % 20))
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_xticks(range(len(rows)), labels, fontsize=7, rotation=30)
    ax.set_ylabel("seconds")
    ax.legend(fontsize=6, ncol=2, loc="upper left")


def write_history(runs: dict[str, Sequence[Entry]], out: Path, *, chart: bool = True) -> dict[str, Path]:
    """Write the files above into ``out``; returns {kind: path}."""
    out.mkdir(parents=True, exist_ok=True)
    history = {}
    for scenario, entries in runs.items():
        rows = rows_of(entries)
        history[scenario] = {"rows": rows, "summary": summary_of(rows)}
    written: dict[str, Path] = {}
    if chart and history:
        svg, png = draw(history, out / "history")
        written.update(svg=svg, png=png)
    markdown = render_markdown(history, written["svg"].name if "svg" in written else None)
    (out / "history.md").write_text(markdown, encoding="utf-8")
    (out / "history.json").write_bytes(orjson.dumps(history, option=orjson.OPT_INDENT_2) + b"\n")
    written.update(markdown=out / "history.md", json=out / "history.json")
    body = html.escape(markdown)
    inline = written["svg"].read_text(encoding="utf-8") if "svg" in written else ""
    inline = inline[inline.find("<svg") :] if "<svg" in inline else ""
    page = ("<!doctype html><meta charset=utf-8><title>drill history</title>"
            f"<body style='font-family:sans-serif'>{inline}<pre>{body}</pre></body>\n")  # fmt: skip
    (out / "history.html").write_text(page, encoding="utf-8")
    written["html"] = out / "history.html"
    return written
