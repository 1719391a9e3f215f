"""The gate's cache: cfn-lint findings by template content, the action sliver by policy_sentry version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.gate import actions, lint
from harness.gate.runner import run_gate
from harness.gate.spec import GateSpec
from harness.gate.templates import load_template

BROKEN = (
    'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  T:\n    Type: AWS::SNS::Topic\n'
    "    Properties:\n      TopicName: !Ref Nope\n"
)


def test_cfn_lint_findings_are_cached_by_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_GATE_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "t.yaml"
    path.write_text(BROKEN)
    first = lint.cfn_lint(load_template(path), "us-east-1")
    assert first and all(f.rule.startswith("cfn-lint/") for f in first)
    (entry,) = (tmp_path / "cache").glob("cfn-lint-*.json")
    assert lint.cfn_lint(load_template(path), "us-east-1") == first  # from the cache
    path.write_text(BROKEN.replace("!Ref Nope", "plain"))  # new content: a new key, linted again
    assert lint.cfn_lint(load_template(path), "us-east-1") == []
    entry.write_text("not json")  # a damaged entry is recomputed, never trusted
    path.write_text(BROKEN)
    assert lint.cfn_lint(load_template(path), "us-east-1") == first
    assert json.loads(entry.read_text())  # and rewritten


def test_cache_off_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_GATE_CACHE", "off")
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "t.yaml"
    path.write_text(BROKEN)
    assert not run_gate(GateSpec(), [path]).passed
    assert not (tmp_path / ".cache").exists()


def test_action_sliver_matches_policy_sentry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from policy_sentry.querying.actions import get_action_data, get_actions_for_service

    monkeypatch.setenv("DRILL_GATE_CACHE", str(tmp_path))
    actions.database.cache_clear()
    actions.service_actions.cache_clear()
    try:
        built = actions.database()
        assert list(tmp_path.glob("iam-actions-*.json"))
        actions.database.cache_clear()
        assert actions.database() == built  # read back from the file
        assert sorted(actions.service_actions("events")) == sorted(get_actions_for_service("events"))
        level = get_action_data("events", "PutRule")["events"][0]["access_level"]
        assert actions.access_level("events:PutRule") == level == "Write"
        assert actions.wildcard_only("events:ListRules") and not actions.wildcard_only("events:PutRule")
    finally:
        actions.database.cache_clear()
        actions.service_actions.cache_clear()
