"""Retention decisions: keep-last/daily/weekly/monthly, safeguards and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.errors import ConfigError, RefusedError
from harness.snapshot.retention import Candidate, RetentionPolicy, decide

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _cands(*hours_ago: float, locked: set[int] = frozenset()) -> list[Candidate]:  # type: ignore[assignment]
    return [
        Candidate(
            f"s{i:02d}", "t", NOW - timedelta(hours=h), locked="COMPLIANCE until x" if i in locked else None
        )
        for i, h in enumerate(hours_ago)
    ]


def _kept(decisions: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(d.id for d in decisions if d.action == "keep")


def test_keep_last() -> None:
    decisions = decide(_cands(1, 2, 3, 4), RetentionPolicy(keep_last=2))
    assert _kept(decisions) == ["s00", "s01"]
    doomed = next(d for d in decisions if d.id == "s03")
    assert doomed.reasons == ["matched no keep rule of the policy"]


def test_daily_weekly_monthly_keep_the_newest_of_each_period() -> None:
    # two per day for 60 days
    hours = [d * 24 + h for d in range(60) for h in (1, 5)]
    cands = _cands(*hours)
    assert len(_kept(decide(cands, RetentionPolicy(keep_daily=3)))) == 3
    daily = decide(cands, RetentionPolicy(keep_daily=3))
    assert _kept(daily) == ["s00", "s02", "s04"]  # the newer one of each of the last three days
    weekly = decide(cands, RetentionPolicy(keep_weekly=4))
    weeks = {d.reasons[0] for d in weekly if d.action == "keep" and d.reasons[0].startswith("keep_weekly")}
    assert len(weeks) == 4 and all("2026-W" in w for w in weeks)
    monthly = decide(cands, RetentionPolicy(keep_monthly=2))
    assert {r for d in monthly for r in d.reasons if r.startswith("keep_monthly")} == {
        "keep_monthly: newest of 2026-11",
        "keep_monthly: newest of 2026-10",
    }


def test_newest_and_locked_are_never_deleted() -> None:
    decisions = decide(_cands(1, 2, 3, 400, locked={3}), RetentionPolicy(keep_daily=1))
    assert _kept(decisions) == ["s00", "s03"]
    newest = next(d for d in decisions if d.id == "s00")
    assert "newest snapshot (never deleted)" in newest.reasons
    locked = next(d for d in decisions if d.id == "s03")
    assert locked.reasons == ["retention-locked (COMPLIANCE until x; never deleted)"]


def test_untrusted_snapshots_are_kept_and_flagged() -> None:
    cands = _cands(1, 50)
    cands[1].problem = "manifest failed authentication"
    decisions = decide(cands, RetentionPolicy(keep_last=1))
    assert _kept(decisions) == ["s00", "s01"]
    assert "not trusted, investigate" in next(d for d in decisions if d.id == "s01").reasons[0]


def test_a_policy_that_would_delete_everything_is_refused() -> None:
    with pytest.raises(RefusedError, match="would delete every one of the 3 snapshot"):
        decide(_cands(1, 2, 3), RetentionPolicy())
    assert decide([], RetentionPolicy()) == []


@pytest.mark.parametrize("data", [{"keep_last": -1}, {"keep_yearly": 1}, {"keep_last": "2"}])
def test_bad_policies_are_named(data: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=r"cfg\.yaml"):
        RetentionPolicy.from_dict(data, "cfg.yaml")
