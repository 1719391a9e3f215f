"""The check-family registry: every catalogue rule has a family that emits it, and no family a stray id."""

from __future__ import annotations

import pytest

from harness.gate.checks import CHECK_MODULES, check_family, families
from harness.gate.findings import RULES
from harness.gate.runner import run_gate
from harness.gate.spec import load_spec
from tests.gate.helpers import BROKEN, GOOD, SPEC


def test_every_catalogue_rule_is_emitted_by_a_family_and_vice_versa() -> None:
    declared = [rule for family in families() for rule in family.emits]
    catalogue_ids = [rule for rule in declared if not rule.endswith("/*")]
    assert sorted(catalogue_ids) == sorted(RULES)  # each rule once, none missing, none extra
    assert {rule for rule in declared if rule.endswith("/*")} == {"cfn-lint/*", "zizmor/*"}


def test_families_follow_the_module_order() -> None:
    names = [family.name for family in families()]
    assert names == [
        "role-policies",
        "spec-roles",
        "role-trust",
        "posture",
        "cfn-lint",
        "workflow-permissions",
        "zizmor",
        "live-drift",
    ]
    assert [f.name for f in families("role")] == ["role-policies", "role-trust"]
    assert len(CHECK_MODULES) == len({f.check.__module__ for f in families()})


def test_findings_on_the_fixtures_are_declared_by_a_family() -> None:
    report = run_gate(load_spec(SPEC), [GOOD, BROKEN])
    assert report.findings
    for finding in report.findings:
        assert any(family.covers(finding.rule) for family in families()), finding


def test_a_family_outside_the_check_modules_is_refused() -> None:
    with pytest.raises(ValueError, match="CHECK_MODULES"):
        check_family("stray", "role", emits=("IAM001",))(lambda rp, spec: [])
