"""Controls evaluated against the ledger: per control, per obligation, met or not and which file proves it.

The catalogue is data (``controls.yaml`` beside this module, ``--catalogue FILE`` for a team's own,
schema ``harness/schemas/controls.schema.json``). A scenario counts for the controls its evidence
lists in ``scenario.controls``, or for every control when it lists none. Obligations, over the
period from ``since`` (default: the scenario's first run) to ``now``:

* ``restore-tested``: no stretch longer than ``within_days`` + grace without a verified run;
* ``offsite-restore`` / ``immutability`` / ``encryption-at-rest``: a verified run no older than
  ``within_days`` proves it (``facts``); by default any applicable scenario may prove these;
* ``rto-met`` / ``rpo-met``: every verified run met the objective and the newest one measured it;
* ``evidence-signed``: every run carries a signature by a trusted key (``--key``);
* ``ledger-intact``: no edited, deleted, reordered, renamed or unreadable run;
* ``no-gap``: evidence at least every ``every_days`` + grace, up to ``now``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from harness.config import check, read_yaml
from harness.errors import ConfigError
from harness.evidence import facts
from harness.evidence.ledger import Entry
from harness.evidence.ledger_verify import LedgerReport, gaps

BUILT_IN = Path(__file__).with_name("controls.yaml")
ANY_BY_DEFAULT = ("offsite-restore", "immutability", "encryption-at-rest")
TAMPER_KINDS = ("unreadable", "invalid", "edited", "deleted", "reordered", "renamed", "signature-broken")
_PROVES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "offsite-restore": facts.restored_from_offsite,
    "immutability": facts.immutability_proven,
    "encryption-at-rest": facts.encryption_proven,
}


def load_catalogue(extra: Sequence[Path] = (), *, built_in: bool = True) -> list[dict[str, Any]]:
    """The built-in controls plus those of each ``extra`` file; a repeated control id is an error."""
    controls: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in ([BUILT_IN] if built_in else []) + list(extra):
        data, _ = read_yaml(path, "controls catalogue")
        check(data, "controls.schema.json", str(path))
        for control in data["controls"]:
            if control["id"] in seen:
                raise ConfigError(
                    f"{path}: control {control['id']!r} is already defined in {seen[control['id']]}"
                )
            seen[control["id"]] = str(path)
            controls.append(control)
    return controls


@dataclass
class Outcome:
    """One obligation of one control: met or not, the files that prove it, and why not."""

    obligation: dict[str, Any]
    met: bool = True
    proofs: list[dict[str, str]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        o = self.obligation
        params = [f"{k.removesuffix('_days')} {o[k]:g}d" for k in ("within_days", "every_days") if k in o]
        return " ".join([o["check"], *params])

    def to_dict(self) -> dict[str, Any]:
        return {"obligation": self.label, **self.obligation, "met": self.met,
                "proven_by": self.proofs, "problems": self.problems}  # fmt: skip


def _days(value: float) -> timedelta:
    return timedelta(days=value)


def _verified(runs: Iterable[Entry]) -> list[Entry]:
    return [e for e in runs if (e.doc or {}).get("verdict") == "verified"]


class _Judge:
    """Evaluates obligations for one scenario's runs."""

    def __init__(self, report: LedgerReport, now: datetime, since: datetime | None) -> None:
        self.report, self.now, self.since = report, now, since

    def window(self, runs: list[Entry]) -> list[Entry]:
        return [
            e
            for e in runs
            if (self.since is None or e.finished_at >= self.since) and e.finished_at <= self.now
        ]

    def judge(
        self, o: dict[str, Any], scenario: str, runs: list[Entry]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """(files that prove it, [(file, problem)]) for obligation ``o``; met when no problems."""
        kind = o["check"]
        grace = _days(o.get("grace_days", 1))
        verified = _verified(runs)
        newest = verified[-1].name if verified else ""
        if kind == "restore-tested":
            start = self.since or (runs[0].finished_at if runs else self.now)
            limit = _days(o["within_days"]) + grace
            points = [start, *(e.finished_at for e in verified), self.now]
            bad = [(a, b) for a, b in pairwise(points) if b - a > limit]
            within = f"{o['within_days']:g}d"
            return [newest] if newest else [], [
                ("", f"no verified run from {a:%Y-%m-%d} to {b:%Y-%m-%d} ({(b - a).days}d > {within})")
                for a, b in bad
            ]
        if kind in _PROVES:
            recent = [e for e in verified if self.now - e.finished_at <= _days(o["within_days"]) + grace]
            proofs = [e.name for e in recent if e.doc and _PROVES[kind](e.doc)]
            return proofs[-1:], [] if proofs else [
                ("", f"no verified run within {o['within_days']:g}d proves it")
            ]
        if kind in ("rto-met", "rpo-met"):
            key = kind[:3]
            problems = [(e.name, f"{key.upper()} objective not met") for e in verified
                        if facts.objective(e.doc or {}, key).get("met") is False]  # fmt: skip
            if not verified:
                problems.append(("", "no verified run"))
            elif facts.objective(verified[-1].doc or {}, key).get("met") is None:
                problems.append(
                    (newest, f"the newest verified run did not measure {key.upper()} against an objective")
                )
            return [newest] if newest and not problems else [], problems
        if kind == "evidence-signed":
            if not self.report.signatures_checked:
                return [], [("", "signatures were not checked: give the public key with --key")]
            unsigned = [
                (e.name, "no valid signature by a trusted key")
                for e in runs
                if e.name not in self.report.signed_by
            ]
            return [e.name for e in runs][-1:] if not unsigned else [], unsigned
        if kind == "ledger-intact":
            problems = [(f.file, f"{f.kind}: {f.message}") for f in self.report.findings
                        if f.kind in TAMPER_KINDS and f.scenario in (scenario, "")]  # fmt: skip
            return [runs[-1].name] if runs and not problems else [], problems
        if kind == "no-gap":
            found = gaps(scenario, runs, _days(o["every_days"]), grace, self.now, self.since)
            return [runs[-1].name] if runs and not found else [], [(f.file, f.message) for f in found]
        raise ConfigError(f"unknown obligation {kind!r}")


def applicable(report: LedgerReport, control_id: str) -> dict[str, list[Entry]]:
    """The scenarios that count for ``control_id``: those that map themselves to it or map nothing."""
    chosen = {}
    for scenario, runs in report.runs.items():
        if not runs:
            continue
        mapped = (runs[-1].doc or {}).get("scenario", {}).get("controls")
        if not isinstance(mapped, list) or not mapped or control_id in mapped:
            chosen[scenario] = runs
    return chosen


def evaluate(
    controls: Sequence[dict[str, Any]], report: LedgerReport, now: datetime, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Every control's obligations against the ledger ``report`` (from ``verify_ledger``)."""
    judge = _Judge(report, now, since)
    results = []
    for control in controls:
        scenarios = {name: judge.window(runs) for name, runs in applicable(report, control["id"]).items()}
        outcomes = []
        for obligation in control["obligations"]:
            outcome = Outcome(obligation)
            scope = obligation.get("scope", "any" if obligation["check"] in ANY_BY_DEFAULT else "every")
            judged = {name: judge.judge(obligation, name, runs) for name, runs in scenarios.items()}
            good = [name for name, (_p, problems) in judged.items() if not problems]
            outcome.met = bool(judged) and (bool(good) if scope == "any" else len(good) == len(judged))
            outcome.proofs = [{"scenario": n, "file": f} for n in good for f in judged[n][0]]
            if not judged:
                outcome.problems = [
                    {"scenario": "", "file": "", "message": "no scenario in the ledger counts for it"}
                ]
            elif not outcome.met:
                outcome.problems = [
                    {"scenario": name, "file": file, "message": msg}
                    for name, (_p, problems) in judged.items()
                    for file, msg in problems
                ]
            outcomes.append(outcome)
        results.append({
            "id": control["id"], "framework": control["framework"], "reference": control["reference"],
            "title": control["title"], "met": all(o.met for o in outcomes),
            "scenarios": sorted(scenarios), "obligations": [o.to_dict() for o in outcomes],
        })  # fmt: skip
    return results


def _problem(p: dict[str, str]) -> str:
    parts = (
        f"[{p['scenario']}]" if p["scenario"] else "",
        f"`{p['file']}`" if p["file"] else "",
        p["message"],
    )
    return " ".join(x for x in parts if x)


def render_markdown(results: Sequence[dict[str, Any]], location: str, now: datetime) -> str:
    met = sum(1 for r in results if r["met"])
    lines = [
        f"## Controls: {met} of {len(results)} met",
        "",
        f"Ledger `{location}`, evaluated {now:%Y-%m-%dT%H:%M:%SZ}.",
        "",
        "| control | obligation | met | evidence, or why not |",
        "|---|---|---|---|",
    ]
    for r in results:
        name = f"{r['framework']} {r['reference']} ({r['id']})"
        for o in r["obligations"]:
            if o["met"]:
                detail = ", ".join(f"`{p['file']}`" for p in o["proven_by"]) or "—"
            else:
                detail = "; ".join(_problem(p) for p in o["problems"][:4]).replace("|", "\\|")
            lines.append(
                f"| {name} | {o['obligation']} | {'✅ met' if o['met'] else '❌ NOT met'} | {detail} |"
            )
            name = ""
    return "\n".join(lines) + "\n"
