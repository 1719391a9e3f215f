"""The IAM engine against the conformance table (tests/gate/conformance.py): >= 99%, misses explained."""

from __future__ import annotations

from typing import Any

from harness.gate.iam import PolicyError, Request, evaluate, parse_policy
from tests.gate.conformance import CASES, GUIDE, REFUSE, SECTIONS

# Cases the engine is known to decide differently from the documentation, with the reason.
# Every entry must still miss (a fixed miss must leave this list) and there must be few.
KNOWN_MISSES: dict[str, str] = {}


def decide(statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any]) -> str:
    try:
        policy = parse_policy({"Version": "2012-10-17", "Statement": statements})
        return str(evaluate(policy, Request.make(action, resource, context)).decision)
    except PolicyError:
        return REFUSE


def results() -> tuple[int, list[tuple[str, str, str]]]:
    misses = []
    for name, _section, statements, action, resource, context, expected in CASES:
        got = decide(statements, action, resource, context)
        if got != expected:
            misses.append((name, expected, got))
    return len(CASES), misses


def test_table_is_several_hundred_cases_with_a_section_each() -> None:
    assert len(CASES) >= 300
    assert len({c[0] for c in CASES}) == len(CASES)  # unique names
    assert all(c[1] in SECTIONS for c in CASES)
    assert all(SECTIONS[c[1]].startswith("reference_policies") for c in CASES) and GUIDE.startswith(
        "https://"
    )


def test_conformance_is_at_least_99_percent_and_every_miss_is_explained() -> None:
    total, misses = results()
    score = 1 - len(misses) / total
    unexplained = [m for m in misses if m[0] not in KNOWN_MISSES]
    assert not unexplained, unexplained
    assert sorted(KNOWN_MISSES) == sorted(m[0] for m in misses)  # no stale explanations
    assert score >= 0.99, f"{score:.2%}"


if __name__ == "__main__":
    total, misses = results()
    print(f"conformance: {total - len(misses)}/{total} = {1 - len(misses) / total:.2%}")
    for m in misses:
        print("  miss:", m)
