"""Checking a ledger: edited, deleted, reordered and renamed runs, signatures, and gaps in the schedule.

Per scenario the readable runs are put in time order (``finished_at``, then name) and each run's
``previous_evidence`` must be the run before it, byte for byte:

* the link names a file that is there but whose sha256 differs: that file was **edited**;
* the link names a file that is not there: a run was **deleted**;
* the link points at another run of the ledger: the runs were **reordered** (a back-dated run was
  inserted, or times were changed);
* the first run links to something: the runs before it were deleted.

The newest run has nobody after it: its signature (``--key``) and, in S3, its version history
protect it. With ``expect_every``, a stretch longer than the interval plus ``grace`` without any
evidence (between runs, before the first after ``since``, or since the last until ``now``) is a
**gap**: a scheduled drill that did not run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness.clock import utc_iso
from harness.evidence.ledger import Entry, LedgerStore, ordered
from harness.evidence.naming import evidence_stem
from harness.evidence.schema import validate_evidence
from harness.evidence.signing import SignatureProblem, verify_envelope

#: finding kinds, in the order a report lists them
KINDS = (
    "unreadable", "invalid", "edited", "deleted", "reordered", "renamed", "signature-broken",
    "signature-foreign", "unsigned", "unlocked", "gap",
)  # fmt: skip
_SIGNATURE_KIND = {"subject": "edited", "broken": "signature-broken", "malformed": "signature-broken"}


@dataclass(frozen=True)
class Finding:
    kind: str
    scenario: str
    file: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "scenario": self.scenario, "file": self.file, "message": self.message}


@dataclass
class LedgerReport:
    location: str
    runs: dict[str, list[Entry]] = field(default_factory=dict)  # scenario -> runs in time order
    findings: list[Finding] = field(default_factory=list)
    signed_by: dict[str, str] = field(default_factory=dict)  # file -> key id that verified
    signatures_checked: bool = False

    @property
    def passed(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "passed": self.passed,
            "signatures_checked": self.signatures_checked,
            "scenarios": {
                name: [
                    {
                        "file": e.name,
                        "finished_at": e.doc["finished_at"] if e.doc else None,
                        "verdict": (e.doc or {}).get("verdict"),
                        "sha256": e.sha256,
                        "signed_by": self.signed_by.get(e.name),
                    }
                    for e in runs
                ]
                for name, runs in sorted(self.runs.items())
            },
            "findings": [f.to_dict() for f in self.findings],
        }


def _span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h"


def _check_entry(entry: Entry, keys: Sequence[Ed25519PublicKey], report: LedgerReport) -> None:
    doc = entry.doc
    assert doc is not None
    try:
        validate_evidence(doc)
    except ValueError as exc:
        report.findings.append(Finding("invalid", entry.scenario, entry.name, str(exc)[:300]))
    else:
        if f"{evidence_stem(doc)}.json" != entry.name:
            msg = "the file name does not match the run it holds (scenario, finish time, run id)"
            report.findings.append(Finding("renamed", entry.scenario, entry.name, msg))
    if not keys:
        return
    if entry.envelope is None:
        report.findings.append(Finding("unsigned", entry.scenario, entry.name, "no signature envelope"))
        return
    try:
        report.signed_by[entry.name] = verify_envelope(entry.envelope, entry.name, entry.data, keys).key_id
    except SignatureProblem as exc:
        kind = _SIGNATURE_KIND.get(exc.kind, "signature-foreign")
        report.findings.append(Finding(kind, entry.scenario, entry.name, f"signature: {exc}"))


def _check_chain(scenario: str, runs: list[Entry], report: LedgerReport) -> None:
    by_sha = {e.sha256: e for e in runs}
    names = {e.name: e for e in runs}
    for i, entry in enumerate(runs):
        link = (entry.doc or {}).get("previous_evidence")
        before = runs[i - 1] if i else None
        if not isinstance(link, dict):
            if before is not None:
                msg = f"the chain restarts here: no link to the run before it ({before.name})"
                report.findings.append(Finding("deleted", scenario, entry.name, msg))
            continue
        sha = link.get("sha256") if isinstance(link.get("sha256"), str) else None
        file = str(link.get("file"))
        if before is not None and sha == before.sha256:
            continue
        if sha in by_sha:
            target = by_sha[sha].name
            msg = f"links to {target}, which is not the run before it in time" + (
                f" ({before.name})" if before else " (it is later)"
            )
            report.findings.append(Finding("reordered", scenario, entry.name, msg))
        elif file in names:
            msg = f"{file} changed after this run recorded its sha256"
            report.findings.append(Finding("edited", scenario, file, msg))
        else:
            msg = f"the run before this one ({file}, finished {link.get('finished_at')}) is not in the ledger"
            report.findings.append(Finding("deleted", scenario, entry.name, msg))


def gaps(
    scenario: str, runs: Sequence[Entry], every: timedelta, grace: timedelta, now: datetime,
    since: datetime | None = None,
) -> list[Finding]:  # fmt: skip
    """Stretches longer than ``every + grace`` without evidence of ``scenario`` (runs in time order)."""
    found: list[Finding] = []
    limit = every + grace
    times = [(e.finished_at, e.name) for e in runs]
    if since is not None and times and times[0][0] - since > limit:
        msg = f"no evidence from {utc_iso(since)} until {times[0][1]} ({_span(times[0][0] - since)})"
        found.append(Finding("gap", scenario, times[0][1], msg))
    for (t0, n0), (t1, _n1) in pairwise(times):
        if t1 - t0 > limit:
            msg = (
                f"no evidence for {_span(t1 - t0)} after this run (until {utc_iso(t1)}); "
                f"expected every {_span(every)} + {_span(grace)} grace"
            )
            found.append(Finding("gap", scenario, n0, msg))
    last, name = times[-1] if times else (since, "")
    if last is None:
        found.append(Finding("gap", scenario, "", "no evidence at all"))
    elif now - last > limit:
        msg = f"no evidence since {utc_iso(last)} ({_span(now - last)}; expected every {_span(every)})"
        found.append(Finding("gap", scenario, name, msg))
    return found


def verify_ledger(
    store: LedgerStore,
    *,
    keys: Sequence[Ed25519PublicKey] = (),
    expect_every: timedelta | None = None,
    grace: timedelta = timedelta(days=1),
    now: datetime | None = None,
    since: datetime | None = None,
    scenarios: Sequence[str] = (),
) -> LedgerReport:
    """Every check above over the whole ledger (or only ``scenarios``, which must then all be there)."""
    now = now or datetime.now(UTC)
    report = LedgerReport(store.location, signatures_checked=bool(keys))
    grouped: dict[str, list[Entry]] = defaultdict(list)
    for entry in store.entries():
        if entry.doc is None:
            report.findings.append(Finding("unreadable", "", entry.name, "not readable as evidence JSON"))
            continue
        if scenarios and entry.scenario not in scenarios:
            continue
        grouped[entry.scenario].append(entry)
    for scenario in scenarios:
        grouped.setdefault(scenario, [])
    for note in store.notes():
        if not scenarios or note.scenario in scenarios or not note.scenario:
            report.findings.append(Finding(note.kind, note.scenario, note.file, note.message))
    for scenario, entries in sorted(grouped.items()):
        runs = ordered(entries)
        report.runs[scenario] = runs
        for entry in runs:
            _check_entry(entry, keys, report)
        _check_chain(scenario, runs, report)
        if expect_every is not None:
            report.findings += gaps(scenario, runs, expect_every, grace, now, since)
    report.findings.sort(key=lambda f: (f.scenario, KINDS.index(f.kind) if f.kind in KINDS else 99, f.file))
    return report
