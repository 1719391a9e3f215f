"""RTO at production size: the measured per-stage throughput scaled to the size the scenario declares.

A scenario declares ``production: {rows: N, bytes: B}``. For one run, each restore stage of its lane
(``facts.RESTORE_STEPS``) moved the drilled amount in its measured seconds: that is the stage's
throughput. At production size each such stage takes ``production / throughput`` seconds; the
rest of the measured RTO (start-up, connections) is kept as fixed overhead. Bytes are the basis
when both sides know them, else rows. Over a history, a least-squares line through the forecasts
says whether and when the trend crosses the RTO objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from harness.evidence.facts import RESTORE_STEPS, Size, drilled_size, objective
from harness.evidence.verdict import PASSED

#: a trend that crosses the objective within this horizon is flagged
HORIZON = timedelta(days=90)


@dataclass(frozen=True)
class Forecast:
    seconds: float
    objective_seconds: float | None
    basis: str  # "bytes" or "rows"
    scale: float  # production size / drilled size
    throughput: dict[str, float]  # stage -> units (basis) per second, as measured

    @property
    def exceeds(self) -> bool | None:
        return None if self.objective_seconds is None else self.seconds > self.objective_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "rto_seconds": round(self.seconds, 3),
            "objective_seconds": self.objective_seconds,
            "exceeds_objective": self.exceeds,
            "basis": self.basis,
            "scale": round(self.scale, 3),
            "throughput_per_second": {k: round(v, 1) for k, v in self.throughput.items()},
        }


def production_size(doc: dict[str, Any]) -> Size | None:
    declared = doc.get("scenario", {}).get("production")
    if not isinstance(declared, dict):
        return None
    return Size(declared.get("rows"), declared.get("bytes"))


def forecast(doc: dict[str, Any]) -> Forecast | None:
    """The RTO forecast of one run at its scenario's production size (None: not enough facts)."""
    production, drilled = production_size(doc), drilled_size(doc)
    rto = objective(doc, "rto")
    measured = rto.get("measured_seconds")
    if production is None or not isinstance(measured, int | float):
        return None
    if production.bytes and drilled.bytes:
        basis, scale, amount = "bytes", production.bytes / drilled.bytes, drilled.bytes
    elif production.rows and drilled.rows:
        basis, scale, amount = "rows", production.rows / drilled.rows, drilled.rows
    else:
        return None
    stages = RESTORE_STEPS.get(str(doc.get("scenario", {}).get("lane")), ())
    seconds = {
        s["name"]: float(s["seconds"])
        for s in doc.get("steps", [])
        if s.get("name") in stages and s.get("status") == PASSED and s.get("seconds", 0) > 0
    }
    scaled = sum(seconds.values())
    fixed = max(float(measured) - scaled, 0.0) if seconds else 0.0
    total = fixed + (scaled if seconds else float(measured)) * scale
    throughput = {name: amount / sec for name, sec in seconds.items()}
    return Forecast(total, rto.get("objective_seconds"), basis, scale, throughput)


@dataclass(frozen=True)
class Trend:
    slope_per_day: float  # forecast seconds per day
    latest: float  # the fitted value at the last run
    crosses_at: datetime | None  # when the fitted line reaches the objective (None: never/already)
    flagged: bool  # over the objective now, or crossing within HORIZON

    def to_dict(self) -> dict[str, Any]:
        return {
            "slope_seconds_per_day": round(self.slope_per_day, 3),
            "fitted_latest_seconds": round(self.latest, 3),
            "crosses_objective_at": self.crosses_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.crosses_at
            else None,
            "flagged": self.flagged,
        }


def trend(points: Sequence[tuple[datetime, float]], objective_seconds: float | None) -> Trend | None:
    """Least-squares line through (time, forecast) points and where it meets the objective."""
    if len(points) < 2:
        return None
    t0 = points[0][0]
    xs = [(t - t0).total_seconds() / 86400 for t, _ in points]
    ys = [v for _, v in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    latest = my + slope * (xs[-1] - mx)
    crosses: datetime | None = None
    flagged = False
    if objective_seconds is not None:
        if ys[-1] > objective_seconds or latest > objective_seconds:
            flagged = True
        elif slope > 0:
            crosses = points[-1][0] + timedelta(days=(objective_seconds - latest) / slope)
            flagged = crosses - points[-1][0] <= HORIZON
    return Trend(slope, latest, crosses, flagged)
