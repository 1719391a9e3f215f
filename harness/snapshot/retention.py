"""Retention: which snapshots a keep-last/daily/weekly/monthly policy keeps, and ``prune``.

Snapshots are ordered newest first by creation time (authenticated header). ``keep_last``
keeps the N newest; ``keep_daily``/``weekly``/``monthly`` keep the newest snapshot of each of
the D/W/M most recent calendar days / ISO weeks / months (UTC) that have one. A policy that
on its own would keep nothing is refused. On top of the policy, the newest snapshot, every
retention-locked snapshot and every snapshot whose manifest does not authenticate are kept,
each with its reason. A key that cannot be used at all (missing key file, wrong key, KMS
unreachable) stops the prune before anything is decided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.clock import utc_iso
from harness.errors import ConfigError, DrillError, RefusedError, VerificationFailed
from harness.snapshot.catalog import open_snapshot
from harness.snapshot.keys import KeyProvider
from harness.snapshot.manifest import parse_utc
from harness.snapshot.store_base import SnapshotStore

RULES = ("keep_last", "keep_daily", "keep_weekly", "keep_monthly")
_PERIODS: dict[str, Callable[[datetime], str]] = {
    "keep_daily": lambda t: t.strftime("%Y-%m-%d"),
    "keep_weekly": lambda t: "{:04d}-W{:02d}".format(*t.isocalendar()[:2]),
    "keep_monthly": lambda t: t.strftime("%Y-%m"),
}


@dataclass(frozen=True)
class RetentionPolicy:
    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> RetentionPolicy:
        unknown = set(data) - set(RULES)
        if unknown:
            raise ConfigError(
                f"{where}: unknown retention setting(s) {sorted(unknown)} (known: {', '.join(RULES)})"
            )
        for name, value in data.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{where}: retention.{name} must be a whole number ≥ 0, not {value!r}")
        return cls(**data)

    def to_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in RULES}


@dataclass
class Candidate:
    id: str
    tag: str | None
    created_at: datetime
    locked: str | None = None  # description of the lock, if locked
    problem: str | None = None  # why its manifest could not be trusted


@dataclass
class Decision:
    id: str
    tag: str | None
    created_at: str
    action: str  # keep | delete
    reasons: list[str] = field(default_factory=list)
    outcome: str | None = None  # after a real prune: deleted | refused: …
    trusted: bool = True  # False: the manifest did not authenticate (kept, to investigate)

    @property
    def refused(self) -> bool:
        return bool(self.outcome and self.outcome.startswith("refused"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "trusted": self.trusted,
            "tag": self.tag,
            "created_at": self.created_at,
            "action": self.action,
            "reasons": self.reasons,
            "outcome": self.outcome,
        }


def decide(candidates: list[Candidate], policy: RetentionPolicy) -> list[Decision]:
    """Keep/delete with reasons, newest first; refuses a policy that alone would keep nothing."""
    ordered = sorted(candidates, key=lambda c: (c.created_at, c.id), reverse=True)
    reasons: dict[str, list[str]] = {c.id: [] for c in ordered}
    trusted = [c for c in ordered if c.problem is None]
    for rank, cand in enumerate(trusted[: policy.keep_last], start=1):
        reasons[cand.id].append(f"keep_last: #{rank} newest")
    for rule, period in _PERIODS.items():
        seen: list[str] = []
        for cand in trusted:
            bucket = period(cand.created_at)
            if bucket not in seen and len(seen) < getattr(policy, rule):
                seen.append(bucket)
                reasons[cand.id].append(f"{rule}: newest of {bucket}")
    if trusted and not any(reasons[c.id] for c in trusted):
        raise RefusedError(
            f"retention policy {policy.to_dict()} would delete every one of the {len(trusted)} snapshot(s); "
            "refusing (keep at least one, e.g. keep_last: 1)"
        )
    if ordered:
        reasons[ordered[0].id].append("newest snapshot (never deleted)")
    for cand in ordered:
        if cand.locked:
            reasons[cand.id].append(f"retention-locked ({cand.locked}; never deleted)")
        if cand.problem:
            reasons[cand.id].append(f"not trusted, investigate ({cand.problem})")
    decisions = []
    for cand in ordered:
        why = reasons[cand.id] or ["matched no keep rule of the policy"]
        action = "keep" if reasons[cand.id] else "delete"
        when = utc_iso(cand.created_at)
        decisions.append(Decision(cand.id, cand.tag, when, action, why, trusted=cand.problem is None))
    return decisions


def candidates(store: SnapshotStore, keys: KeyProvider, tag: str | None = None) -> list[Candidate]:
    """Every snapshot (optionally only one tag), with its authenticated time and lock state.

    A snapshot that fails verification is a candidate flagged with the problem; a key error
    (ConfigError/ProviderError: missing or wrong key) propagates, since nothing can be decided.
    """
    out = []
    for snapshot in store.ids():
        lock = store.lock_state(snapshot)
        locked = lock.describe() if lock.locked() else None
        try:
            opened = open_snapshot(store, keys, snapshot)
        except VerificationFailed as exc:
            moment = datetime.strptime(snapshot[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            out.append(Candidate(snapshot, None, moment, locked, problem=str(exc)[:200]))
            continue
        if tag is not None and opened.header["tag"] != tag:
            continue
        created = parse_utc(opened.header["created_at"], f"snapshot {snapshot}")
        out.append(Candidate(snapshot, opened.header["tag"], created, locked))
    return out


def prune(
    store: SnapshotStore, keys: KeyProvider, policy: RetentionPolicy, *, dry_run: bool, tag: str | None = None
) -> list[Decision]:
    """Decide and (unless ``dry_run``) delete; a refused delete is recorded, never forced."""
    decisions = decide(candidates(store, keys, tag), policy)
    for decision in decisions:
        if decision.action != "delete":
            continue
        if dry_run:
            decision.outcome = "would delete (dry run)"
            continue
        try:
            store.delete(decision.id)
            decision.outcome = "deleted"
        except DrillError as exc:
            decision.outcome = f"refused: {exc}"
    return decisions
