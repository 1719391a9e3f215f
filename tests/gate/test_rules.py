"""Rule families on small real templates and workflows written to tmp_path."""

from __future__ import annotations

from pathlib import Path

from harness.gate.runner import run_gate
from harness.gate.spec import GateSpec, parse_spec

ROLE_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: lambda.amazonaws.com
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AdministratorAccess
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: "*"
                Resource: "*"
              - Effect: Allow
                Action:
                  - lambda:UpdateFunctionCode
                  - s3:GetObject
                Resource: "*"
              - Effect: Allow
                Action: iam:PassRole
                Resource: "*"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rules_at(tmp_path: Path, path: Path, spec: GateSpec | None = None) -> dict[int, str]:
    report = run_gate(spec or GateSpec(), [path])
    return {f.line: f.rule for f in report.findings if not f.rule.startswith("cfn-lint/")}


def test_generic_iam_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "role.yaml", ROLE_TEMPLATE)
    assert rules_at(tmp_path, path) == {14: "IAM005", 21: "IAM003", 27: "IAM006", 30: "IAM007"}


def test_write_on_star_lists_only_scopable_write_actions(tmp_path: Path) -> None:
    path = write(tmp_path, "role.yaml", ROLE_TEMPLATE)
    finding = next(f for f in run_gate(GateSpec(), [path]).findings if f.rule == "IAM006")
    assert "lambda:UpdateFunctionCode" in finding.message and "s3:GetObject" not in finding.message


def test_unknown_condition_operator_is_refused(tmp_path: Path) -> None:
    text = ROLE_TEMPLATE.replace(
        '                Action: iam:PassRole\n                Resource: "*"\n',
        '                Action: iam:PassRole\n                Resource: "*"\n'
        "                Condition:\n                  StringMatchesRegex:\n                    a: b\n",
    )
    path = write(tmp_path, "role.yaml", text)
    assert rules_at(tmp_path, path)[28] == "GATE000"


WORKFLOW = """\
on: pull_request
permissions:
  contents: write
jobs:
  build:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    steps:
      - uses: aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502 # v4.0.2
        with:
          role-to-assume: arn:aws:iam::111122223333:role/admin
          aws-region: eu-west-1
      - uses: actions/checkout@v4
"""


def test_workflow_rules(tmp_path: Path) -> None:
    path = write(tmp_path, ".github/workflows/ci.yml", WORKFLOW)
    spec = parse_spec(
        {"spec_version": 1, "workflows": {"deploy_jobs": ["deploy"], "role_to_assume": ["arn:x"]}}
    )
    found = rules_at(tmp_path, path, spec)
    assert found[3] == "WF002" and found[8] == "WF001" and found[12] == "WF003"
    assert found[14] == "zizmor/unpinned-uses"


def test_missing_workflow_permissions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "w.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: 'true'\n",
    )
    assert rules_at(tmp_path, path, parse_spec({"spec_version": 1, "workflows": {"zizmor": False}})) == {
        1: "WF002"
    }


SCHEDULE_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Policies:
        - Statement:
            - Effect: Allow
              Action: [events:PutRule, events:PutTargets]
              Resource: "*"
"""


def test_schedule_rules(tmp_path: Path) -> None:
    path = write(tmp_path, "app.yaml", SCHEDULE_TEMPLATE)
    spec = parse_spec({"spec_version": 1, "posture": {"scheduled_functions": ["Fn"]}})
    found = {(f.line, f.rule, f.resource) for f in run_gate(spec, [path]).findings}
    assert (4, "SCHED001", "Fn") in found and (13, "SCHED002", "Fn") in found
    assert (14, "IAM006", "FnRole") in found  # the SAM function role gets every IAM rule too


DYNAMO = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
"""


def test_database_posture_without_any_backup_setup(tmp_path: Path) -> None:
    path = write(tmp_path, "db.yaml", DYNAMO)
    report = run_gate(GateSpec(), [path])
    assert sorted(f.rule for f in report.findings if f.rule.startswith("DB")) == [
        "DB002",
        "DB003",
        "DB004",
        "DB005",
        "DB006",
    ]
    assert {f.line for f in report.findings if f.rule.startswith("DB")} == {3}
