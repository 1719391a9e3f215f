"""The nine gate defects of issue 16, each on a real template or workflow (each failed before the fix)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.gate.runner import run_gate
from harness.gate.spec import GateSpec, load_spec, parse_spec
from tests.gate.helpers import GOOD, ROLE, SPEC, line_of


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def findings(spec: GateSpec, *paths: Path) -> list[tuple[str, int, str, str]]:
    report = run_gate(spec, list(paths))
    return [
        (f.rule, f.line, f.severity, f.resource) for f in report.findings if not f.rule.startswith("cfn-")
    ]


# 1. folding never lowers severity -------------------------------------------------------------------
PASSROLE = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: p
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: iam:PassRole
                Resource: arn:aws:iam::111122223333:role/app-*
"""


def test_folding_keeps_the_error_of_a_folded_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "role.yaml", PASSROLE)
    spec_path = write(
        tmp_path,
        "spec.yaml",
        "spec_version: 1\nroles:\n  Role:\n    must_allow:\n      - actions: [iam:PassRole]\n"
        "        resources: ['arn:aws:iam::111122223333:role/other-x']\n",
    )
    report = run_gate(load_spec(spec_path), [path])
    (finding,) = [f for f in report.findings if not f.rule.startswith("cfn-")]
    assert finding.rule == "IAM007" and "IAM001" in finding.message  # folded into the warning's finding
    assert finding.severity == "error" and not report.passed
    assert main(["gate", "--spec", str(spec_path), "--format", "sarif", str(path)]) == 1
    result = json.loads(capsys.readouterr().out)["runs"][0]["results"][0]
    assert result["level"] == "error"


# 2. role-to-assume through env / vars ----------------------------------------------------------------
def workflow(role: str, env: str = "", job_env: str = "") -> str:
    return (
        f"on: push\npermissions:\n  contents: read\n{env}jobs:\n  deploy:\n    runs-on: ubuntu-latest\n"
        f"{job_env}    permissions:\n      id-token: write\n      contents: read\n    steps:\n"
        "      - uses: aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502\n"
        f"        with:\n          role-to-assume: {role}\n          aws-region: eu-west-1\n"
    )


EXPECTED = "arn:aws:iam::111122223333:role/deploy"


def wf_spec() -> GateSpec:
    workflows = {"role_to_assume": [EXPECTED], "zizmor": False, "vars": {"DEPLOY_ROLE": EXPECTED}}
    return parse_spec({"spec_version": 1, "workflows": workflows})


@pytest.mark.parametrize(
    ("role", "env", "job_env", "expected"),
    [
        ("${{ env.ROLE }}", f"env:\n  ROLE: {EXPECTED}\n", "", []),
        ("${{ env.ROLE }}", "", f"    env:\n      ROLE: {EXPECTED}\n", []),
        (
            "${{ env.ROLE }}",
            f"env:\n  ROLE: {EXPECTED}\n",
            "    env:\n      ROLE: arn:aws:iam::1:role/admin\n",
            ["WF003"],
        ),
        ("${{ env.ROLE }}", "env:\n  ROLE: arn:aws:iam::111122223333:role/admin\n", "", ["WF003"]),
        ("${{ env.ROLE }}", "env:\n  ROLE: ${{ vars.DEPLOY_ROLE }}\n", "", []),
        ("${{ vars.DEPLOY_ROLE }}", "", "", []),
        ("${{ secrets.DEPLOY_ROLE }}", "", "", ["WF004"]),
        ("${{ env.MISSING }}", "", "", ["WF004"]),
        (EXPECTED, "", "", []),
    ],
)
def test_role_to_assume_resolves_env_and_vars(
    tmp_path: Path, role: str, env: str, job_env: str, expected: list[str]
) -> None:
    path = write(tmp_path, ".github/workflows/deploy.yml", workflow(role, env, job_env))
    assert [f[0] for f in findings(wf_spec(), path)] == expected


def test_wf003_names_the_resolved_role(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        ".github/workflows/d.yml",
        workflow("${{ env.ROLE }}", "env:\n  ROLE: arn:aws:iam::1:role/admin\n"),
    )
    (f,) = run_gate(wf_spec(), [path]).findings
    assert "role/admin" in f.message and f.line == line_of(path, "role-to-assume")


# 3. unresolved OIDC provider ------------------------------------------------------------------------
def test_unresolved_federated_principal_still_checks_the_trust_conditions(tmp_path: Path) -> None:
    text = ROLE.read_text().replace("Federated: !Ref GitHubOIDCProvider", "Federated: !Ref ProviderArn")
    text = text.replace("Parameters:\n", "Parameters:\n  ProviderArn:\n    Type: String\n", 1)
    text = text.replace(":ref:refs/heads/main", ":*")
    path = write(tmp_path, "role.yaml", text)
    rules = {f.rule: f for f in run_gate(GateSpec(), [path]).findings}
    assert "OIDC001" not in rules
    assert "set parameter ProviderArn in the spec" in rules["OIDC005"].message
    assert rules["OIDC005"].line == line_of(path, "Federated: !Ref ProviderArn")
    assert "OIDC004" in rules  # the sub check still ran (repo:org/repo:* is not exact)


# 4. spec typos --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("action", "hint"),
    [
        ("event:Put*", "did you mean events?"),
        ("events:PutRulez*", "matches no action"),
        ("events:DescribeRules", "did you mean events:DescribeRule?"),
        ("s3GetObject", "is not service:Action"),
    ],
)
def test_unknown_probe_actions_are_configuration_errors(tmp_path: Path, action: str, hint: str) -> None:
    spec = write(
        tmp_path,
        "spec.yaml",
        f"spec_version: 1\nroles:\n  DeployRole:\n    must_deny:\n      - actions: ['{action}']\n"
        "        resources: ['*']\n",
    )
    with pytest.raises(ConfigError, match=r"roles\.DeployRole\.must_deny\[0\]\.actions\[0\]") as exc:
        load_spec(spec)
    assert hint in str(exc.value)


@pytest.mark.parametrize(
    ("setting", "value", "hint"),
    [
        ("scheduled_functions", "WorkEngineFuntion", "did you mean WorkEngineFunction?"),
        ("archive_buckets", "ArchivBucket", "did you mean ArchiveBucket?"),
        ("archive_buckets", "WorkEngineFunction", "is a AWS::Serverless::Function"),
    ],
)
def test_misspelt_posture_names_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setting: str, value: str, hint: str
) -> None:
    spec = write(tmp_path, "spec.yaml", f"spec_version: 1\nposture:\n  {setting}: [{value}]\n")
    assert main(["gate", "--spec", str(spec), str(GOOD)]) == 2
    err = capsys.readouterr().err
    assert f"posture.{setting}[0]" in err and hint in err


def test_posture_names_are_not_held_to_templates_without_such_resources() -> None:
    assert run_gate(load_spec(SPEC), [ROLE]).passed  # ArchiveBucket lives in app.yaml, not given


# 5. SAM function Policies ---------------------------------------------------------------------------
SAM = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      Policies:
        - Statement:
            - Effect: Allow
              Action: "*"
              Resource: "*"
        - AdministratorAccess
        - S3CrudPolicy:
            BucketName: !Ref Bucket
"""


def test_sam_function_policies_get_every_iam_rule(tmp_path: Path) -> None:
    path = write(tmp_path, "sam.yaml", SAM)
    found = {(rule, line) for rule, line, _, resource in findings(GateSpec(), path) if resource == "FnRole"}
    assert ("IAM003", 15) in found  # Action "*" on "*"
    assert ("IAM005", 17) in found  # AdministratorAccess by name


def test_unknown_sam_policy_template_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "sam.yaml", SAM.replace("S3CrudPolicy:", "S3CrudPolicyy:"))
    gate000 = [f for f in run_gate(GateSpec(), [path]).findings if f.rule == "GATE000"]
    assert gate000 and "did you mean S3CrudPolicy?" in gate000[0].message and gate000[0].line == 18


# 6. directory mode ----------------------------------------------------------------------------------
def test_directory_mode_skips_what_is_not_an_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "compose.yaml", "services:\n  db:\n    image: postgres:15\n")
    write(tmp_path, "package.json", '{"name": "x"}')
    write(tmp_path, "role.yaml", PASSROLE)
    assert main(["gate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "skipped 2 file(s)" in out and "compose.yaml" in out and "package.json" in out
    assert main(["gate", "--format", "sarif", str(tmp_path)]) == 0
    notes = json.loads(capsys.readouterr().out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 2


# 7. schedules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("schedule", "extra", "expected"),
    [
        ("cron(0 5 * * ? *)", "", []),
        ("cron(0 5 * * ? *)", "            Enabled: false\n", ["SCHED003"]),
        ("rate(1 fortnight)", "", ["SCHED003"]),
        ("rate(1 days)", "", ["SCHED003"]),
        ("cron(0 5 * * * *)", "", ["SCHED003"]),
        ("rate(1 day)", "            State: DISABLED\n", ["SCHED003"]),
    ],
)
def test_disabled_or_invalid_schedules(
    tmp_path: Path, schedule: str, extra: str, expected: list[str]
) -> None:
    text = (GOOD / "app.yaml").read_text().replace("cron(0 5 * * ? *)", schedule)
    text = text.replace(
        "            Description: Daily export", extra + "            Description: Daily export"
    )
    path = write(tmp_path, "app.yaml", text)
    got = [f for f in findings(load_spec(SPEC), path) if f[0].startswith("SCHED")]
    assert [f[0] for f in got] == expected
    if expected:
        anchor = (
            "Enabled: false" if "Enabled" in extra else "State: DISABLED" if "State" in extra else "Schedule:"
        )
        assert got[0][1] == line_of(path, anchor)


# 8. findings point at the element ---------------------------------------------------------------------
def test_findings_point_at_the_offending_element(tmp_path: Path) -> None:
    text = PASSROLE.replace("Resource: arn:aws:iam::111122223333:role/app-*", 'Resource: "*"')
    text += (
        "              - Effect: Allow\n                Action:\n                  - s3:GetObject\n"
        '                  - ec2:*\n                Resource: "*"\n'
    )
    path = write(tmp_path, "role.yaml", text)
    got = {(rule, line) for rule, line, _, _ in findings(GateSpec(), path)}
    assert ("IAM007", line_of(path, 'Resource: "*"')) in got
    assert ("IAM004", line_of(path, "- ec2:*")) in got


# 9. cfn-lint noise ----------------------------------------------------------------------------------
def test_one_root_cause_is_one_cfn_lint_finding(tmp_path: Path) -> None:
    resources = "".join(
        f"  T{i}:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub ${{Stage}}-{i}\n"
        f"      DisplayName: !Ref Stage\n"
        for i in range(15)
    )
    path = write(tmp_path, "t.yaml", 'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n' + resources)
    lint = [f for f in run_gate(GateSpec(), [path]).findings if f.rule.startswith("cfn-lint/")]
    assert len(lint) == 1
    assert "one root cause: 30 findings" in lint[0].message and lint[0].severity == "error"


# a crash is never an answer --------------------------------------------------------------------------
def test_an_unexpected_error_is_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "odd.yaml",
        PASSROLE.replace("Resource: arn:aws:iam::111122223333:role/app-*", "Resource: !Select [one, [a, b]]"),
    )
    assert main(["gate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "template checks" in err and "one" not in err.replace(str(path), "")


def test_a_rule_targeting_another_function_does_not_schedule_this_one(tmp_path: Path) -> None:
    text = (GOOD / "app.yaml").read_text()
    text = text.replace(
        "      Events:\n        DailyWorkEngineCron:\n          Type: Schedule\n          Properties:\n"
        "            Schedule: cron(0 5 * * ? *)\n"
        "            Description: Daily export into the archive bucket\n",
        "",
    )
    text += (
        "  WorkEngineFunctionTwo:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: src/\n"
        "  Cron:\n    Type: AWS::Events::Rule\n    Properties:\n      ScheduleExpression: rate(1 day)\n"
        "      Targets:\n        - Id: two\n          Arn: !GetAtt WorkEngineFunctionTwo.Arn\n"
    )
    path = write(tmp_path, "app.yaml", text)
    got = [f for f in findings(load_spec(SPEC), path) if f[0].startswith("SCHED")]
    assert [(f[0], f[3]) for f in got] == [("SCHED001", "WorkEngineFunction")]  # a prefix is not a reference
