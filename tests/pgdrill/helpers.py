"""Building pgdrill lanes from scenario dicts, and running them like `drill run` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.evidence import Evidence
from harness.lanes import lane_class
from harness.lanes.base import Lane
from harness.lanes.runner import run_lane, start
from harness.pgdrill import canary
from harness.scenario import RunOptions, load_scenario

#: The canary planted in the test dumps (tests/pgdrill/conftest.py); never in any output.
TOKEN = canary.new_token()


def write_scenario(tmp_path: Path, name: str, lane: str, **sections: Any) -> Path:
    data = {"scenario_version": 1, "name": name, "lane": lane, **sections}
    path = tmp_path / "scenarios" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def make_lane(path: Path, tmp_path: Path, **extra: Any) -> tuple[Lane, Evidence]:
    scenario = load_scenario(path)
    options = RunOptions(evidence_dir=tmp_path / "reports", work_dir=tmp_path / "work", extra=extra)
    return start(lane_class(scenario.lane), scenario, options)


def run(path: Path, tmp_path: Path, **extra: Any) -> tuple[Lane, dict[str, Any]]:
    lane, evidence = make_lane(path, tmp_path, **extra)
    return lane, run_lane(lane, evidence)


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in doc["steps"]}


def require_pgbackrest() -> None:
    """Skip without pgbackrest locally; under CI (``CI=true``) a missing pgbackrest fails the test:
    ``.ci/run`` installs it, so its absence there is a broken pipeline, never a pass."""
    import os
    import shutil

    import pytest

    if shutil.which("pgbackrest") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("pgbackrest is not installed; .ci/run installs it (apt-get install -y pgbackrest)")
        pytest.skip("pgbackrest is not installed: apt-get install pgbackrest")
