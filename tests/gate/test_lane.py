"""The least-privilege-gate lane on the real PR scenario (needs the foundation's lane/evidence modules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import VerificationFailed
from harness.evidence import Evidence
from harness.gate.lane import GateLane
from harness.lanes import lane_class
from harness.scenario import RunOptions, load_scenario
from tests.gate.helpers import ROOT

SCENARIO = ROOT / "scenarios" / "pr" / "least-privilege.yaml"


def make_lane(path: Path, tmp_path: Path) -> GateLane:
    scenario = load_scenario(path)
    cls = lane_class(scenario.lane)
    assert cls is GateLane
    evidence = Evidence(scenario=scenario.describe())
    lane = GateLane(scenario, RunOptions(evidence_dir=tmp_path, work_dir=tmp_path / "work"), evidence)
    return lane


def test_scenario_verifies(tmp_path: Path) -> None:
    lane = make_lane(SCENARIO, tmp_path)
    for spec in GateLane.steps:
        assert lane.runner(spec.name)()
    gate = lane.sections()["extra"]["gate"]
    assert gate["passed"] and gate["findings"] == [] and Path(gate["sarif"]).is_file()
    assert {s.name for s in GateLane.steps if s.data_proving} == {"iam", "oidc", "posture"}


def test_broken_scenario_fails_the_iam_step(tmp_path: Path) -> None:
    text = SCENARIO.read_text().replace("good/deploy-role.yaml", "broken/deploy-role-events-star.yaml")
    path = tmp_path / "scenarios" / "broken.yaml"
    path.parent.mkdir()
    path.write_text(text.replace("../../fixtures/", f"{ROOT}/fixtures/"))
    lane = make_lane(path, tmp_path)
    lane.step_gate()
    with pytest.raises(VerificationFailed, match="IAM004"):
        lane.step_iam()
    assert lane.step_posture() and lane.step_oidc()
