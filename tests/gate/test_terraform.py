"""Terraform backup posture on a real module set (python-hcl2) and its broken variants."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.gate.runner import run_gate
from harness.gate.spec import GateSpec, parse_spec
from harness.gate.terraform import Module
from tests.gate.helpers import FIXTURES

TF = FIXTURES / "terraform"
GOOD_TF = TF / "good"
BROKEN_TF = TF / "broken"
SPEC = parse_spec(
    {"spec_version": 1, "posture": {"backup_tags": {"backup": "daily"}, "database": {"retention_days": 30}}}
)


def variant(tmp_path: Path, broken: Path) -> tuple[Path, str]:
    """The good module set with one file replaced by ``broken`` (its first line names the file)."""
    target = broken.read_text().splitlines()[0].split("replaces ", 1)[1].split(")", 1)[0]
    root = tmp_path / "tf"
    shutil.copytree(GOOD_TF, root)
    (root / target).write_text(broken.read_text())
    return root, target


def test_good_module_set_passes_and_is_one_root() -> None:
    report = run_gate(SPEC, [GOOD_TF])
    assert report.findings == [] and report.passed
    assert report.templates == [str(GOOD_TF)]  # the called modules are part of it, not roots


def test_variables_locals_and_module_outputs_are_resolved() -> None:
    root = Module(GOOD_TF)
    db = root.children["database"]
    assert db.value(db.variables["identifier"].attrs.get("default", ("", 0))[0]) == ""  # no default
    assert db.inputs["identifier"] == "dataops-v1-db"  # "${local.name_prefix}-db" with a var default
    assert db.inputs["retention_days"] == 30
    assert root.children["backup"].inputs["alarm_topic_arn"] == {
        "Fn::GetAtt": ["module.alarms.aws_sns_topic.backup_alarms", "Arn"]
    }
    assert root.expression("var.nope").startswith("{{unresolved:")


def _expected(broken: Path) -> str:
    return broken.read_text().splitlines()[0].rsplit("(expect ", 1)[1].rstrip(")")


BROKEN = sorted(BROKEN_TF.glob("*.tf"))
LINES = {  # (file, text on the line the finding must point at)
    "variables-short-retention.tf": ("modules/database/main.tf", "backup_retention_period"),
    "database-no-deletion-protection.tf": ("modules/database/main.tf", "deletion_protection "),
    "backup-weekly.tf": ("modules/database/main.tf", 'resource "aws_db_instance"'),
    "backup-no-selection.tf": ("modules/database/main.tf", 'resource "aws_db_instance"'),
    "backup-failed-only.tf": ("modules/database/main.tf", 'resource "aws_db_instance"'),
    "alarms-missing-data-ok.tf": ("modules/database/main.tf", 'resource "aws_db_instance"'),
    "bucket-versioning-suspended.tf": ("modules/bucket/main.tf", 'status = "Suspended"'),
    "bucket-public-access-open.tf": (
        "modules/bucket/main.tf",
        'resource "aws_s3_bucket_public_access_block"',
    ),
    "bucket-destroyable.tf": ("modules/bucket/main.tf", 'resource "aws_s3_bucket" "archive"'),
    "bucket-unencrypted.tf": ("modules/bucket/main.tf", 'resource "aws_s3_bucket" "archive"'),
}


def test_every_broken_variant_has_a_line() -> None:
    assert sorted(p.name for p in BROKEN) == sorted(LINES)


@pytest.mark.parametrize("broken", BROKEN, ids=[p.name for p in BROKEN])
def test_broken_variant_caught_by_one_rule_with_file_and_line(tmp_path: Path, broken: Path) -> None:
    root, _ = variant(tmp_path, broken)
    file, text = LINES[broken.name]
    lines = (root / file).read_text().splitlines()
    line = next(i for i, row in enumerate(lines, 1) if text in row)
    found = [(f.rule, f.file, f.line) for f in run_gate(SPEC, [root]).findings]
    assert found == [(_expected(broken), str(root / file), line)]


def test_terraform_findings_in_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    root, _ = variant(tmp_path, BROKEN_TF / "bucket-versioning-suspended.tf")
    assert main(["gate", "--format", "sarif", str(root)]) == 1
    (result,) = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]
    assert result["ruleId"] == "S3002" and location["artifactLocation"]["uri"].endswith(
        "modules/bucket/main.tf"
    )
    assert location["region"]["startLine"] > 1


def test_unresolvable_values_fail_closed(tmp_path: Path) -> None:
    path = tmp_path / "main.tf"
    path.write_text(
        'variable "days" { type = number }\n'
        'resource "aws_db_instance" "db" {\n  backup_retention_period = var.days\n'
        "  deletion_protection = true\n}\n"
    )
    rules = {f.rule for f in run_gate(GateSpec(), [tmp_path]).findings}
    assert "DB001" in rules or "DB002" in rules  # a retention the gate cannot know never passes


def test_unparseable_module_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "x" {\n  bucket = \n')
    (finding,) = run_gate(GateSpec(), [tmp_path]).findings
    assert finding.rule == "TF000" and finding.severity == "error"


def test_archive_buckets_name_terraform_addresses(tmp_path: Path) -> None:
    spec = parse_spec(
        {"spec_version": 1, "posture": {"archive_buckets": ["module.archive.aws_s3_bucket.archive"]}}
    )
    assert run_gate(spec, [GOOD_TF]).passed
    typo = parse_spec(
        {"spec_version": 1, "posture": {"archive_buckets": ["module.archive.aws_s3_bucket.archiv"]}}
    )
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match=r"did you mean module\.archive\.aws_s3_bucket\.archive"):
        run_gate(typo, [GOOD_TF])
