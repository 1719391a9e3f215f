"""A fleet scorecard from the evidence of many shards (matrix jobs): the newest run of each scenario.

``drill evidence merge DIR...`` reads every evidence JSON under the directories (artifact downloads
put each shard in its own subdirectory), keeps the newest run per scenario, and writes
``scorecard.md`` and ``scorecard.json``; its exit code is the worst verdict (0/1/2), so a fleet
job fails when any scenario did not verify, and 2 when no evidence was found at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from harness.errors import ConfigError
from harness.evidence.facts import objective
from harness.evidence.ledger import Entry, ordered, parse_entry
from harness.evidence.signing import ENVELOPE_SUFFIX, envelope_path
from harness.evidence.verdict import VERDICT_EXIT


def collect(directories: Sequence[Path]) -> tuple[dict[str, list[Entry]], list[str]]:
    """Every readable evidence file under ``directories`` by scenario (time order), and unreadable ones."""
    found: dict[str, list[Entry]] = {}
    unreadable: list[str] = []
    for directory in directories:
        if not directory.is_dir():
            raise ConfigError(f"{directory}: not a directory")
        for path in sorted(directory.rglob("*.json")):
            if path.name.endswith(ENVELOPE_SUFFIX) or not path.is_file():
                continue
            envelope = envelope_path(path)
            entry = parse_entry(
                path.name, path.read_bytes(), envelope.read_bytes() if envelope.is_file() else None, str(path)
            )
            if entry is None:
                continue
            if entry.doc is None:
                unreadable.append(str(path))
                continue
            found.setdefault(entry.scenario, []).append(entry)
    return {name: ordered(runs) for name, runs in found.items()}, unreadable


def _objective(doc: dict[str, Any], key: str) -> dict[str, Any]:
    m = objective(doc, key)
    return {k: m.get(k) for k in ("measured_seconds", "objective_seconds", "met")}


def scorecard(runs: dict[str, list[Entry]], unreadable: Sequence[str] = ()) -> dict[str, Any]:
    rows = []
    for scenario, entries in sorted(runs.items()):
        latest = entries[-1]
        doc = latest.doc or {}
        rows.append({
            "scenario": scenario, "lane": doc["scenario"].get("lane"), "verdict": doc["verdict"],
            "exit_code": doc["exit_code"], "reason": doc["reason"], "finished_at": doc["finished_at"],
            "rto": _objective(doc, "rto"), "rpo": _objective(doc, "rpo"),
            "signed": latest.envelope is not None, "evidence": latest.where, "runs_seen": len(entries),
        })  # fmt: skip
    worst = max((VERDICT_EXIT[r["verdict"]] for r in rows), default=2)
    if unreadable:
        worst = 2
    verified = sum(1 for r in rows if r["verdict"] == "verified")
    return {"scenarios": rows, "verified": verified, "total": len(rows), "exit_code": worst,
            "unreadable": list(unreadable)}  # fmt: skip


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}s"


def render_markdown(card: dict[str, Any]) -> str:
    mark = {"verified": "✅", "failed": "❌", "error": "⛔"}
    lines = [
        f"## Drill scorecard: {card['verified']} of {card['total']} verified (exit {card['exit_code']})",
        "",
        "| scenario | verdict | RTO (objective) | RPO (objective) | signed | finished | evidence |",
        "|---|---|---:|---:|---|---|---|",
    ]
    for r in card["scenarios"]:
        rto, rpo = r["rto"], r["rpo"]
        cells = [
            f"`{r['scenario']}`",
            f"{mark.get(r['verdict'], '')} {r['verdict']}",
            f"{_s(rto['measured_seconds'])} ({_s(rto['objective_seconds'])})",
            f"{_s(rpo['measured_seconds'])} ({_s(rpo['objective_seconds'])})",
            "yes" if r["signed"] else "no",
            r["finished_at"][:16],
            f"`{Path(r['evidence']).name}`",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for path in card["unreadable"]:
        lines.append(f"\n⛔ unreadable evidence: `{path}`")
    return "\n".join(lines) + "\n"


def write_scorecard(card: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "scorecard.md", out / "scorecard.json"
    md.write_text(render_markdown(card), encoding="utf-8")
    js.write_bytes(orjson.dumps(card, option=orjson.OPT_INDENT_2) + b"\n")
    return md, js
