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
    assert {s.name for s in GateLane.steps if s.data_proving} == {"iam", "oidc", "posture", "live"}
    assert gate["live"]["provider"] == "embedded" and any("terraform" in t for t in gate["templates"])
    assert lane.step_live().startswith("no live drift violations")


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


def test_drifted_role_fails_the_live_step_and_lands_in_sarif(tmp_path: Path) -> None:
    import json

    from harness.aws.embedded import embedded_moto
    from harness.gate.live import provision
    from harness.gate.policies import collect_roles
    from harness.gate.spec import load_spec
    from harness.gate.templates import Resolver, load_template
    from tests.gate.helpers import ROLE, SPEC

    with embedded_moto() as ep:
        template = load_template(ROLE)
        rp = collect_roles(template, Resolver(template, load_spec(SPEC).parameters))["DeployRole"]
        provision(ep, "dataops-v1-github-deploy", rp)
        iam = ep.client("iam")
        (name,) = iam.list_role_policies(RoleName="dataops-v1-github-deploy")["PolicyNames"]
        doc = iam.get_role_policy(RoleName="dataops-v1-github-deploy", PolicyName=name)["PolicyDocument"]
        doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "ScheduledRules"]
        iam.put_role_policy(
            RoleName="dataops-v1-github-deploy", PolicyName=name, PolicyDocument=json.dumps(doc)
        )
        text = SCENARIO.read_text().replace("../../fixtures/", f"{ROOT}/fixtures/")
        text = text.replace(
            "    provider: embedded\n    provision: true\n",
            f"    provider: localstack\n    endpoint_url: {ep.endpoint_url}\n",
        )
        path = tmp_path / "scenarios" / "drifted.yaml"
        path.parent.mkdir()
        path.write_text(text)
        lane = make_lane(path, tmp_path)
        lane.step_gate()
    with pytest.raises(VerificationFailed, match="LIVE002"):
        lane.step_live()
    with pytest.raises(VerificationFailed, match="IAM001"):  # the deployed role misses required access
        lane.step_iam()
    lane.step_sarif()
    assert lane.sarif_path is not None
    results = json.loads(lane.sarif_path.read_text())["runs"][0]["results"]
    stale = [r for r in results if r["ruleId"] == "LIVE002"]
    assert stale and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] > 1 for r in stale)
    assert stale[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith(
        "deploy-role.yaml"
    )


def test_broken_terraform_fails_the_posture_step_with_sarif_file_and_line(tmp_path: Path) -> None:
    import json
    import shutil

    good = ROOT / "fixtures" / "gate" / "terraform" / "good"
    broken = ROOT / "fixtures" / "gate" / "terraform" / "broken" / "bucket-versioning-suspended.tf"
    module = tmp_path / "tf"
    shutil.copytree(good, module)
    (module / "modules" / "bucket" / "main.tf").write_text(broken.read_text())
    text = SCENARIO.read_text().replace("../../fixtures/gate/terraform/good", str(module))
    text = text.replace("../../fixtures/", f"{ROOT}/fixtures/")
    path = tmp_path / "scenarios" / "tf.yaml"
    path.parent.mkdir()
    path.write_text(text)
    lane = make_lane(path, tmp_path)
    lane.step_gate()
    with pytest.raises(VerificationFailed, match="S3002"):
        lane.step_posture()
    lane.step_sarif()
    assert lane.sarif_path is not None
    (result,) = [
        r for r in json.loads(lane.sarif_path.read_text())["runs"][0]["results"] if r["ruleId"] == "S3002"
    ]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("tf/modules/bucket/main.tf")
    lines = (module / "modules" / "bucket" / "main.tf").read_text().splitlines()
    assert location["region"]["startLine"] == next(i for i, row in enumerate(lines, 1) if "Suspended" in row)
