"""The gate on real fixtures: the good set passes; each broken variant fails with one rule, file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.gate.runner import run_gate
from harness.gate.spec import load_spec
from tests.gate.helpers import APP, BROKEN, DATABASE, GOOD_INPUTS, ROLE, SPEC, WORKFLOW, line_of


def gate(inputs: list[Path]) -> list[tuple[str, str, int]]:
    report = run_gate(load_spec(SPEC), inputs)
    return [(f.rule, f.file, f.line) for f in report.findings]


def test_good_fixtures_pass_with_no_findings() -> None:
    report = run_gate(load_spec(SPEC), GOOD_INPUTS)
    assert report.findings == []
    assert report.passed
    assert report.roles_evaluated == ["DeployRole", "WorkEngineFunctionRole"]
    assert len(report.templates) == 3 and len(report.workflows) == 1


def swap(good: Path, broken: Path) -> list[Path]:
    return [broken if p == good else p for p in GOOD_INPUTS]


BROKEN_CASES = [
    # (variant, replaces, rule, (anchor text, after))
    # findings point at the element: the Action of the statement for the service ...
    ("deploy-role-missing-describe-rule.yaml", ROLE, "IAM001", ("Action:", "- Sid: ScheduledRules")),
    ("deploy-role-events-star.yaml", ROLE, "IAM004", ("Action: events:*", None)),
    ("deploy-role-wildcard-sub.yaml", ROLE, "OIDC004", ("token.actions.githubusercontent.com:sub", None)),
    # ... or the Resource of the statement that grants the action elsewhere
    ("deploy-role-other-region.yaml", ROLE, "IAM001", ("Resource: !Sub", "- Sid: ScheduledRules")),
    ("deploy-id-token-workflow-level.yml", WORKFLOW, "WF001", ("id-token: write", "permissions:")),
    ("app-bucket-no-versioning.yaml", APP, "S3002", ("  ArchiveBucket:", None)),
    ("database-short-retention.yaml", DATABASE, "DB001", ("BackupRetentionPeriod", None)),
]


@pytest.mark.parametrize(
    ("variant", "replaces", "rule", "anchor"), BROKEN_CASES, ids=[c[0] for c in BROKEN_CASES]
)
def test_broken_variant_caught_by_exactly_one_rule(
    variant: str, replaces: Path, rule: str, anchor: tuple[str, str | None]
) -> None:
    broken = BROKEN / variant
    expected_line = line_of(broken, *anchor)
    assert gate(swap(replaces, broken)) == [(rule, str(broken), expected_line)]


def test_every_broken_fixture_has_a_test() -> None:
    assert sorted(p.name for p in BROKEN.iterdir()) == sorted(c[0] for c in BROKEN_CASES)


def test_events_star_also_reports_the_leaked_probes() -> None:
    report = run_gate(load_spec(SPEC), swap(ROLE, BROKEN / "deploy-role-events-star.yaml"))
    (finding,) = report.findings
    assert (
        "events:*" in finding.message and "another account" in finding.message and "IAM002" in finding.message
    )


def test_wildcard_sub_names_what_it_admits() -> None:
    report = run_gate(load_spec(SPEC), swap(ROLE, BROKEN / "deploy-role-wildcard-sub.yaml"))
    (finding,) = report.findings
    for leak in ("a pull request", "a tag", "another branch"):
        assert leak in finding.message
    assert "another repository" not in finding.message  # the repo part is still pinned


def test_without_spec_generic_rules_still_catch_wildcards() -> None:
    report = run_gate(
        load_spec(None), [BROKEN / "deploy-role-events-star.yaml", BROKEN / "deploy-role-wildcard-sub.yaml"]
    )
    assert {f.rule for f in report.findings} == {"IAM004", "OIDC004"}


def test_this_repositorys_workflows_pass_the_gate() -> None:
    """What .github/workflows/gate.yml runs on every PR: the repository's own workflows must pass."""
    from tests.gate.helpers import GOOD, ROOT

    report = run_gate(load_spec(SPEC), [GOOD, ROOT / ".github" / "workflows"])
    assert report.passed, [str(f) for f in report.failing()]
    assert len(report.workflows) >= 4
