"""``drill gate`` end to end through the real argument parser: exit codes and output formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.gate.helpers import BROKEN, GOOD, SPEC


def test_good_fixtures_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--spec", str(SPEC), str(GOOD)]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_violation_exits_1_and_names_file_line_rule(capsys: pytest.CaptureFixture[str]) -> None:
    broken = BROKEN / "deploy-role-wildcard-sub.yaml"
    assert main(["gate", "--spec", str(SPEC), str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"{broken}:" in out and "OIDC004" in out


def test_missing_spec_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["gate", "--spec", str(tmp_path / "nope.yaml"), str(GOOD)]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_invalid_spec_names_the_setting(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "spec_version: 1\nroles:\n  DeployRole:\n    must_allow:\n"
        "      - actions: []\n        resources: ['*']\n"
    )
    assert main(["gate", "--spec", str(spec), str(GOOD)]) == 2
    err = capsys.readouterr().err
    assert "roles.DeployRole.must_allow[0].actions" in err


def test_undefined_spec_variable_is_a_config_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "spec_version: 1\nroles:\n  R:\n    must_deny:\n"
        "      - actions: [s3:GetObject]\n        resources: ['${Nope}']\n"
    )
    assert main(["gate", "--spec", str(spec), str(GOOD)]) == 2
    assert "${Nope}" in capsys.readouterr().err


def test_unknown_input_kind_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    other = tmp_path / "notes.yaml"
    other.write_text("hello: world\n")
    assert main(["gate", str(other)]) == 2
    assert "neither a CloudFormation/SAM template nor a GitHub Actions workflow" in capsys.readouterr().err


def test_sarif_output(tmp_path: Path) -> None:
    out = tmp_path / "gate.sarif"
    broken = BROKEN / "deploy-role-events-star.yaml"
    assert main(["gate", "--spec", str(SPEC), "--format", "sarif", "--output", str(out), str(broken)]) == 1
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    result = next(r for r in run["results"] if r["ruleId"] == "IAM004")
    assert rule_ids[result["ruleIndex"]] == "IAM004"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("fixtures/gate/broken/deploy-role-events-star.yaml")
    assert location["region"]["startLine"] > 1 and result["level"] == "error"


def test_json_and_markdown_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    broken = BROKEN / "app-bucket-no-versioning.yaml"
    assert main(["gate", "--format", "json", str(broken)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is False and doc["counts"]["by_rule"] == {"S3002": 1}
    assert set(doc["findings"][0]) == {"rule", "severity", "file", "line", "resource", "message"}
    assert main(["gate", "--format", "markdown", str(broken)]) == 1
    assert "| error | `S3002` |" in capsys.readouterr().out


def test_start_up_imports_no_heavy_library() -> None:
    """cfn-lint (sympy, networkx), policy_sentry's database, python-hcl2, the SAM translator: lazy."""
    import subprocess
    import sys

    from tests.gate.helpers import ROOT

    code = (
        "import sys; import harness.cli, harness.gate.runner, harness.gate.checks as c; c.families(); "
        "heavy = ('cfnlint', 'policy_sentry', 'hcl2', 'samtranslator', 'sympy', 'networkx'); "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(heavy)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
