"""Live drift against the embedded moto IAM over HTTP: the role is created from the template, then drifted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.aws.embedded import embedded_moto
from harness.aws.endpoint import AwsEndpoint
from harness.cli import main
from harness.gate.live import LiveReader, provision
from harness.gate.policies import collect_roles
from harness.gate.runner import GateReport, run_gate
from harness.gate.spec import load_spec
from harness.gate.templates import Resolver, load_template
from tests.gate.helpers import ROLE, SPEC, line_of

NAME = "dataops-v1-github-deploy"


@pytest.fixture
def endpoint() -> Iterator[AwsEndpoint]:
    with embedded_moto() as ep:
        spec = load_spec(SPEC)
        template = load_template(ROLE)
        provision(ep, NAME, collect_roles(template, Resolver(template, spec.parameters))["DeployRole"])
        yield ep


def live_gate(ep: AwsEndpoint) -> GateReport:
    return run_gate(load_spec(SPEC), [ROLE], live=LiveReader(ep))


def rules(report: GateReport) -> list[str]:
    return [f.rule for f in report.findings]


def deployed_policy(ep: AwsEndpoint) -> tuple[str, dict[str, object]]:
    iam = ep.client("iam")
    (name,) = iam.list_role_policies(RoleName=NAME)["PolicyNames"]
    return name, iam.get_role_policy(RoleName=NAME, PolicyName=name)["PolicyDocument"]


def test_the_role_deployed_from_the_template_has_no_drift(endpoint: AwsEndpoint) -> None:
    report = live_gate(endpoint)
    assert report.findings == [] and report.passed
    assert report.live is not None and "iam:GetRole" in report.live["calls"]


def test_stale_stack_is_reported_on_the_template_line(endpoint: AwsEndpoint) -> None:
    name, doc = deployed_policy(endpoint)
    rule = next(s for s in doc["Statement"] if s.get("Sid") == "ScheduledRules")  # type: ignore[union-attr]
    rule["Action"].remove("events:DescribeRule")
    endpoint.client("iam").put_role_policy(RoleName=NAME, PolicyName=name, PolicyDocument=json.dumps(doc))
    report = live_gate(endpoint)
    by_rule = {f.rule: f for f in report.findings}
    assert sorted(by_rule) == ["LIVE002"] and not report.passed  # the deployed IAM001 folds into it
    stale = by_rule["LIVE002"]
    assert stale.file == str(ROLE) and stale.line == line_of(ROLE, "Action:", "- Sid: ScheduledRules")
    assert (
        "the template grants events:DescribeRule on arn:aws:events:eu-west-1:111122223333:rule/dataops-v1-*"
        in (stale.message)
    )
    assert "the deployed role does not: the role's stack was not updated" in stale.message
    # the deployed statement keeps its Sid, so the must_allow failure lands on the same statement
    assert "also IAM001: deployed role: required access missing: events:DescribeRule" in stale.message
    assert stale.severity == "error"


def test_out_of_band_grant_and_trust_change(endpoint: AwsEndpoint) -> None:
    iam = endpoint.client("iam")
    extra = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "events:*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=NAME, PolicyName="hotfix", PolicyDocument=json.dumps(extra))
    trust = iam.get_role(RoleName=NAME)["Role"]["AssumeRolePolicyDocument"]
    trust["Statement"][0]["Condition"] = {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}
    iam.update_assume_role_policy(RoleName=NAME, PolicyDocument=json.dumps(trust))
    report = live_gate(endpoint)
    assert {"LIVE003", "LIVE004", "OIDC004"} <= set(rules(report))
    out_of_band = next(f for f in report.findings if f.rule == "LIVE003")
    assert (
        "the deployed role grants events:" in out_of_band.message
        and "changed outside the stack" in out_of_band.message
    )
    leak = "IAM002: deployed role: allows access outside its scope: events:PutRule"
    assert any(leak in f.message and f.severity == "error" for f in report.findings)  # folded, still an error
    sub = next(f for f in report.findings if f.rule == "OIDC004")
    assert sub.message.startswith("deployed role: ") and "another repository" in sub.message


def test_missing_role_is_live001(endpoint: AwsEndpoint) -> None:
    iam = endpoint.client("iam")
    for name in iam.list_role_policies(RoleName=NAME)["PolicyNames"]:
        iam.delete_role_policy(RoleName=NAME, PolicyName=name)
    iam.delete_role(RoleName=NAME)
    assert rules(live_gate(endpoint)) == ["LIVE001"]


def test_drill_gate_live_cli_and_sarif(endpoint: AwsEndpoint, tmp_path: Path) -> None:
    name, doc = deployed_policy(endpoint)
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "FunctionLogs"]  # type: ignore[union-attr]
    endpoint.client("iam").put_role_policy(RoleName=NAME, PolicyName=name, PolicyDocument=json.dumps(doc))
    out = tmp_path / "gate.sarif"
    argv = ["gate", "--spec", str(SPEC), "--live", "--aws-provider", "localstack"]
    argv += [
        "--endpoint-url",
        str(endpoint.endpoint_url),
        "--format",
        "sarif",
        "--output",
        str(out),
        str(ROLE),
    ]
    assert main(argv) == 1
    results = json.loads(out.read_text())["runs"][0]["results"]
    (stale,) = [r for r in results if r["ruleId"] == "LIVE002"]
    location = stale["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("fixtures/gate/good/deploy-role.yaml")
    assert location["region"]["startLine"] == line_of(ROLE, "Action:", "- Sid: FunctionLogs")


def test_live_needs_a_spec_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("spec_version: 1\n")
    assert main(["gate", "--spec", str(spec), "--live", str(ROLE)]) == 2
    assert "live" in capsys.readouterr().err
