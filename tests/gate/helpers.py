"""Paths to the gate fixtures and a helper to find the line an assertion is about."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "gate"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"
SPEC = FIXTURES / "spec.yaml"
ROLE = GOOD / "deploy-role.yaml"
APP = GOOD / "app.yaml"
DATABASE = GOOD / "database.yaml"
WORKFLOW = GOOD / ".github" / "workflows" / "deploy.yml"
GOOD_INPUTS = [ROLE, APP, DATABASE, WORKFLOW]


def line_of(path: Path, text: str, after: str | None = None) -> int:
    """1-based line of the first line containing ``text`` (after the line containing ``after``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1
