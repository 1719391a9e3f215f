"""Freshness as a verdict: the newest backup's age at drill time against the scenario's
``objectives.max_backup_age_seconds``.

Every drill of an existing backup (an archive under a prefix, a pgBackRest repository, a base backup,
a dump) judges it the same way: older than the bound fails the drill with a message naming the
backup and its age; no bound set leaves the age reported and unjudged (the step is skipped, never
passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.clock import utc_iso
from harness.errors import StepSkipped, VerificationFailed


def human(seconds: float) -> str:
    """``93784.0`` -> ``1d 2h 3m 4s`` (to the second)."""
    total = round(seconds)
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = [
        (total // 86400, "d"),
        (total % 86400 // 3600, "h"),
        (total % 3600 // 60, "m"),
        (total % 60, "s"),
    ]
    shown = [f"{n}{unit}" for n, unit in parts if n] or ["0s"]
    return sign + " ".join(shown)


@dataclass(frozen=True)
class Freshness:
    """The newest backup (``backup`` names it), when it was taken, and its age at ``measured_at``."""

    backup: str
    backup_time: datetime
    measured_at: datetime
    max_age_seconds: float | None
    time_means: str = "when the backup was taken"

    @property
    def age_seconds(self) -> float:
        return (self.measured_at - self.backup_time).total_seconds()

    @property
    def met(self) -> bool | None:
        return None if self.max_age_seconds is None else self.age_seconds <= self.max_age_seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "backup_time": utc_iso(self.backup_time),
            "backup_time_means": self.time_means,
            "measured_at": utc_iso(self.measured_at),
            "age_seconds": round(self.age_seconds, 3),
            "max_age_seconds": self.max_age_seconds,
            "met": self.met,
        }

    def judge(self) -> str:
        """The step message when fresh; VerificationFailed when stale; StepSkipped when unbounded."""
        shown = human(self.age_seconds)
        age = f"{shown} old" + ("" if shown == f"{self.age_seconds:.0f}s" else f" ({self.age_seconds:.0f}s)")
        if self.max_age_seconds is None:
            raise StepSkipped(
                f"{self.backup} is {age}; objectives.max_backup_age_seconds is not set, so freshness "
                "is reported, not judged"
            )
        limit = human(self.max_age_seconds)
        bound = limit if limit == f"{self.max_age_seconds:g}s" else f"{limit} ({self.max_age_seconds:g}s)"
        if self.age_seconds < -300:
            raise VerificationFailed(
                f"{self.backup}: its time {utc_iso(self.backup_time)} lies in the future; the backup's "
                "clock or name is wrong, so its freshness cannot be judged"
            )
        if not self.met:
            raise VerificationFailed(
                f"stale: the newest backup {self.backup} is {age}, older than the {bound} allowed "
                f"(taken {utc_iso(self.backup_time)})"
            )
        return f"fresh: the newest backup {self.backup} is {age}, within {bound}"


def freshness(
    backup: str,
    backup_time: datetime,
    max_age_seconds: float | None,
    *,
    now: datetime | None = None,
    time_means: str = "when the backup was taken",
) -> Freshness:
    """The newest backup's age now (or at ``now``)."""
    return Freshness(backup, backup_time, now or datetime.now(UTC), max_age_seconds, time_means)
