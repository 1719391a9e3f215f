"""Table-driven tests of the IAM evaluation engine: every operator and precedence rule."""

from __future__ import annotations

from typing import Any

import pytest

from harness.gate import patterns
from harness.gate.iam import Decision, PolicyError, Request, evaluate, parse_policy

A, ID, ED = Decision.ALLOWED, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY
RULE = "arn:aws:events:eu-west-1:111122223333:rule/dataops-v1-Cron-ABC"
OTHER_STACK = "arn:aws:events:eu-west-1:111122223333:rule/billing-Cron-ABC"
BUCKET = "arn:aws:s3:::archive"


def allow(action: Any = "events:PutRule", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "events:PutRule", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def cond(op: str, key: str, value: Any) -> dict[str, Any]:
    return {"Condition": {op: {key: value}}}


# (id, statements, action, resource, context, expected)
CASES: list[tuple[str, list[dict[str, Any]], str, str, dict[str, Any], Decision]] = [
    # -- precedence ---------------------------------------------------------------------------
    ("no statements: implicit deny", [], "events:PutRule", RULE, {}, ID),
    ("allow matches", [allow()], "events:PutRule", RULE, {}, A),
    ("explicit deny wins over allow", [allow(), deny()], "events:PutRule", RULE, {}, ED),
    ("deny order does not matter", [deny(), allow()], "events:PutRule", RULE, {}, ED),
    (
        "deny for other action leaves allow",
        [allow(), deny("events:DeleteRule")],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "deny on other resource leaves allow",
        [allow(), deny(resource=OTHER_STACK)],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    ("deny alone is explicit deny", [deny()], "events:PutRule", RULE, {}, ED),
    ("allow of other action: implicit", [allow("events:DeleteRule")], "events:PutRule", RULE, {}, ID),
    (
        "deny with unmet condition does not apply",
        [allow(), deny(**cond("Bool", "aws:MultiFactorAuthPresent", "false"))],
        "events:PutRule",
        RULE,
        {"aws:MultiFactorAuthPresent": True},
        A,
    ),
    (
        "deny with met condition applies",
        [allow(), deny(**cond("Bool", "aws:MultiFactorAuthPresent", "false"))],
        "events:PutRule",
        RULE,
        {"aws:MultiFactorAuthPresent": False},
        ED,
    ),
    # -- actions ------------------------------------------------------------------------------
    ("action case-insensitive", [allow("EVENTS:putrule")], "events:PutRule", RULE, {}, A),
    ("action star", [allow("*")], "events:PutRule", RULE, {}, A),
    ("action service star", [allow("events:*")], "events:PutRule", RULE, {}, A),
    ("action prefix star", [allow("events:Put*")], "events:PutRule", RULE, {}, A),
    ("action prefix star other", [allow("events:Put*")], "events:DeleteRule", RULE, {}, ID),
    ("action question mark", [allow("events:Put?ule")], "events:PutRule", RULE, {}, A),
    ("action question mark needs one char", [allow("events:PutR?ule")], "events:PutRule", RULE, {}, ID),
    ("action other service", [allow("s3:*")], "events:PutRule", RULE, {}, ID),
    ("action list", [allow(["s3:GetObject", "events:PutRule"])], "events:PutRule", RULE, {}, A),
    (
        "NotAction allows the rest",
        [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "NotAction excludes listed",
        [{"Effect": "Allow", "NotAction": "events:*", "Resource": "*"}],
        "events:PutRule",
        RULE,
        {},
        ID,
    ),
    (
        "deny NotAction denies the rest",
        [allow(), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}],
        "events:PutRule",
        RULE,
        {},
        ED,
    ),
    (
        "deny NotAction spares listed",
        [allow(), {"Effect": "Deny", "NotAction": "events:*", "Resource": "*"}],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    # -- resources ----------------------------------------------------------------------------
    ("resource exact", [allow(resource=RULE)], "events:PutRule", RULE, {}, A),
    (
        "resource prefix star",
        [allow(resource="arn:aws:events:eu-west-1:111122223333:rule/dataops-v1-*")],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "resource prefix star other stack",
        [allow(resource="arn:aws:events:eu-west-1:111122223333:rule/dataops-v1-*")],
        "events:PutRule",
        OTHER_STACK,
        {},
        ID,
    ),
    ("resource case-sensitive", [allow(resource="arn:" + RULE[4:].upper())], "events:PutRule", RULE, {}, ID),
    ("resource question mark", [allow(resource=RULE[:-1] + "?")], "events:PutRule", RULE, {}, A),
    (
        "resource star in region",
        [allow(resource="arn:aws:events:*:111122223333:rule/dataops-v1-*")],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "resource other account",
        [allow(resource="arn:aws:events:eu-west-1:444455556666:rule/*")],
        "events:PutRule",
        RULE,
        {},
        ID,
    ),
    ("resource list", [allow(resource=[OTHER_STACK, RULE])], "events:PutRule", RULE, {}, A),
    (
        "NotResource allows outside",
        [{"Effect": "Allow", "Action": "events:*", "NotResource": OTHER_STACK}],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "NotResource excludes listed",
        [{"Effect": "Allow", "Action": "events:*", "NotResource": RULE}],
        "events:PutRule",
        RULE,
        {},
        ID,
    ),
    (
        "deny NotResource denies outside",
        [allow(), {"Effect": "Deny", "Action": "*", "NotResource": BUCKET}],
        "events:PutRule",
        RULE,
        {},
        ED,
    ),
    (
        "deny NotResource spares listed",
        [allow(), {"Effect": "Deny", "Action": "*", "NotResource": RULE}],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "policy variable in resource",
        [allow("s3:GetObject", "arn:aws:s3:::archive/${aws:username}/*")],
        "s3:GetObject",
        "arn:aws:s3:::archive/alice/x",
        {"aws:username": "alice"},
        A,
    ),
    (
        "policy variable other user",
        [allow("s3:GetObject", "arn:aws:s3:::archive/${aws:username}/*")],
        "s3:GetObject",
        "arn:aws:s3:::archive/bob/x",
        {"aws:username": "alice"},
        ID,
    ),
    (
        "policy variable missing: no match",
        [allow("s3:GetObject", "arn:aws:s3:::archive/${aws:username}/*")],
        "s3:GetObject",
        "arn:aws:s3:::archive/alice/x",
        {},
        ID,
    ),
    (
        "policy variable default",
        [allow("s3:GetObject", "arn:aws:s3:::archive/${aws:username, 'shared'}/*")],
        "s3:GetObject",
        "arn:aws:s3:::archive/shared/x",
        {},
        A,
    ),
    (
        "escaped star is literal",
        [allow("s3:GetObject", "arn:aws:s3:::archive/${*}")],
        "s3:GetObject",
        "arn:aws:s3:::archive/x",
        {},
        ID,
    ),
    # -- string operators ---------------------------------------------------------------------
    (
        "StringEquals match",
        [allow(**cond("StringEquals", "aws:RequestedRegion", "eu-west-1"))],
        "events:PutRule",
        RULE,
        {"aws:RequestedRegion": "eu-west-1"},
        A,
    ),
    (
        "StringEquals case-sensitive",
        [allow(**cond("StringEquals", "aws:RequestedRegion", "EU-west-1"))],
        "events:PutRule",
        RULE,
        {"aws:RequestedRegion": "eu-west-1"},
        ID,
    ),
    (
        "StringEquals key case-insensitive",
        [allow(**cond("StringEquals", "AWS:RequestedRegion", "eu-west-1"))],
        "events:PutRule",
        RULE,
        {"aws:requestedregion": "eu-west-1"},
        A,
    ),
    (
        "StringEquals missing key",
        [allow(**cond("StringEquals", "aws:RequestedRegion", "eu-west-1"))],
        "events:PutRule",
        RULE,
        {},
        ID,
    ),
    (
        "StringEquals star is literal",
        [allow(**cond("StringEquals", "aws:RequestedRegion", "eu-*"))],
        "events:PutRule",
        RULE,
        {"aws:RequestedRegion": "eu-west-1"},
        ID,
    ),
    (
        "StringEquals values ORed",
        [allow(**cond("StringEquals", "aws:RequestedRegion", ["us-east-1", "eu-west-1"]))],
        "events:PutRule",
        RULE,
        {"aws:RequestedRegion": "eu-west-1"},
        A,
    ),
    (
        "StringNotEquals match",
        [allow(**cond("StringNotEquals", "aws:RequestedRegion", "us-east-1"))],
        "events:PutRule",
        RULE,
        {"aws:RequestedRegion": "eu-west-1"},
        A,
    ),
    (
        "StringNotEquals equal",
        [allow(**cond("StringNotEquals", "aws:RequestedRegion", "eu-west-1"))],
        "events:PutRule",
        RULE,
        {"aws:RequestedRegion": "eu-west-1"},
        ID,
    ),
    (
        "StringNotEquals missing key is true",
        [allow(**cond("StringNotEquals", "aws:RequestedRegion", "eu-west-1"))],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "StringLike star",
        [allow(**cond("StringLike", "token:sub", "repo:o/r:*"))],
        "events:PutRule",
        RULE,
        {"token:sub": "repo:o/r:pull_request"},
        A,
    ),
    (
        "StringLike question mark",
        [allow(**cond("StringLike", "token:sub", "repo:o/?"))],
        "events:PutRule",
        RULE,
        {"token:sub": "repo:o/r"},
        A,
    ),
    (
        "StringLike no match",
        [allow(**cond("StringLike", "token:sub", "repo:o/r:ref:*"))],
        "events:PutRule",
        RULE,
        {"token:sub": "repo:o/r:pull_request"},
        ID,
    ),
    (
        "StringNotLike match",
        [allow(**cond("StringNotLike", "token:sub", "*:pull_request"))],
        "events:PutRule",
        RULE,
        {"token:sub": "repo:o/r:ref:refs/heads/main"},
        A,
    ),
    (
        "StringNotLike excluded",
        [allow(**cond("StringNotLike", "token:sub", "*:pull_request"))],
        "events:PutRule",
        RULE,
        {"token:sub": "repo:o/r:pull_request"},
        ID,
    ),
    (
        "StringEqualsIgnoreCase",
        [allow(**cond("StringEqualsIgnoreCase", "aws:PrincipalTag/team", "DATA"))],
        "events:PutRule",
        RULE,
        {"aws:PrincipalTag/team": "data"},
        A,
    ),
    (
        "StringEquals with policy variable",
        [allow(**cond("StringEquals", "s3:prefix", "${aws:username}/"))],
        "events:PutRule",
        RULE,
        {"s3:prefix": "alice/", "aws:username": "alice"},
        A,
    ),
    # -- IfExists -----------------------------------------------------------------------------
    (
        "StringEqualsIfExists missing key",
        [allow(**cond("StringEqualsIfExists", "ec2:InstanceType", "t3.micro"))],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "StringEqualsIfExists present mismatch",
        [allow(**cond("StringEqualsIfExists", "ec2:InstanceType", "t3.micro"))],
        "events:PutRule",
        RULE,
        {"ec2:InstanceType": "m5.large"},
        ID,
    ),
    (
        "ArnLikeIfExists missing",
        [allow(**cond("ArnLikeIfExists", "aws:SourceArn", "arn:aws:s3:::x"))],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    # -- ARN operators ------------------------------------------------------------------------
    (
        "ArnLike wildcard segment",
        [allow(**cond("ArnLike", "aws:SourceArn", "arn:aws:events:*:111122223333:rule/*"))],
        "events:PutRule",
        RULE,
        {"aws:SourceArn": RULE},
        A,
    ),
    (
        "ArnLike other account",
        [allow(**cond("ArnLike", "aws:SourceArn", "arn:aws:events:*:444455556666:rule/*"))],
        "events:PutRule",
        RULE,
        {"aws:SourceArn": RULE},
        ID,
    ),
    (
        "ArnLike star does not cross segments",
        [allow(**cond("ArnLike", "aws:SourceArn", "arn:aws:events:*:rule/*"))],
        "events:PutRule",
        RULE,
        {"aws:SourceArn": RULE},
        ID,
    ),
    (
        "ArnEquals exact",
        [allow(**cond("ArnEquals", "aws:SourceArn", RULE))],
        "events:PutRule",
        RULE,
        {"aws:SourceArn": RULE},
        A,
    ),
    (
        "ArnNotLike",
        [allow(**cond("ArnNotLike", "aws:SourceArn", "arn:aws:events:*:444455556666:*"))],
        "events:PutRule",
        RULE,
        {"aws:SourceArn": RULE},
        A,
    ),
    (
        "ArnLike not an ARN",
        [allow(**cond("ArnLike", "aws:SourceArn", "arn:aws:events:*:*:*"))],
        "events:PutRule",
        RULE,
        {"aws:SourceArn": "not-an-arn"},
        ID,
    ),
    # -- Bool / Null --------------------------------------------------------------------------
    (
        "Bool true",
        [allow(**cond("Bool", "aws:SecureTransport", "true"))],
        "events:PutRule",
        RULE,
        {"aws:SecureTransport": True},
        A,
    ),
    (
        "Bool false",
        [allow(**cond("Bool", "aws:SecureTransport", "true"))],
        "events:PutRule",
        RULE,
        {"aws:SecureTransport": False},
        ID,
    ),
    (
        "Bool YAML boolean value",
        [allow(**cond("Bool", "aws:SecureTransport", True))],
        "events:PutRule",
        RULE,
        {"aws:SecureTransport": "true"},
        A,
    ),
    (
        "Bool missing key",
        [allow(**cond("Bool", "aws:SecureTransport", "true"))],
        "events:PutRule",
        RULE,
        {},
        ID,
    ),
    (
        "Null true: key absent",
        [allow(**cond("Null", "aws:TokenIssueTime", "true"))],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "Null true: key present",
        [allow(**cond("Null", "aws:TokenIssueTime", "true"))],
        "events:PutRule",
        RULE,
        {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"},
        ID,
    ),
    (
        "Null false: key present",
        [allow(**cond("Null", "aws:TokenIssueTime", "false"))],
        "events:PutRule",
        RULE,
        {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"},
        A,
    ),
    (
        "deny if MFA missing (Null)",
        [allow(), deny("*", **cond("Null", "aws:MultiFactorAuthPresent", "true"))],
        "events:PutRule",
        RULE,
        {},
        ED,
    ),
    # -- numeric ------------------------------------------------------------------------------
    (
        "NumericLessThan",
        [allow(**cond("NumericLessThan", "s3:max-keys", "10"))],
        "events:PutRule",
        RULE,
        {"s3:max-keys": 5},
        A,
    ),
    (
        "NumericLessThan equal is false",
        [allow(**cond("NumericLessThan", "s3:max-keys", "10"))],
        "events:PutRule",
        RULE,
        {"s3:max-keys": 10},
        ID,
    ),
    (
        "NumericLessThanEquals",
        [allow(**cond("NumericLessThanEquals", "s3:max-keys", 10))],
        "events:PutRule",
        RULE,
        {"s3:max-keys": 10},
        A,
    ),
    (
        "NumericGreaterThan",
        [allow(**cond("NumericGreaterThan", "aws:MultiFactorAuthAge", "3600"))],
        "events:PutRule",
        RULE,
        {"aws:MultiFactorAuthAge": 7200},
        A,
    ),
    (
        "NumericGreaterThanEquals",
        [allow(**cond("NumericGreaterThanEquals", "n", "2"))],
        "events:PutRule",
        RULE,
        {"n": "1.5"},
        ID,
    ),
    ("NumericEquals", [allow(**cond("NumericEquals", "n", "2.0"))], "events:PutRule", RULE, {"n": 2}, A),
    ("NumericNotEquals", [allow(**cond("NumericNotEquals", "n", "2"))], "events:PutRule", RULE, {"n": 3}, A),
    (
        "Numeric request not a number",
        [allow(**cond("NumericEquals", "n", "2"))],
        "events:PutRule",
        RULE,
        {"n": "two"},
        ID,
    ),
    # -- dates --------------------------------------------------------------------------------
    (
        "DateLessThan",
        [allow(**cond("DateLessThan", "aws:CurrentTime", "2027-01-01T00:00:00Z"))],
        "events:PutRule",
        RULE,
        {"aws:CurrentTime": "2026-11-22T10:00:00Z"},
        A,
    ),
    (
        "DateLessThan after",
        [allow(**cond("DateLessThan", "aws:CurrentTime", "2026-01-01T00:00:00Z"))],
        "events:PutRule",
        RULE,
        {"aws:CurrentTime": "2026-11-22T10:00:00Z"},
        ID,
    ),
    (
        "DateGreaterThan epoch",
        [allow(**cond("DateGreaterThan", "aws:EpochTime", "1700000000"))],
        "events:PutRule",
        RULE,
        {"aws:EpochTime": "1800000000"},
        A,
    ),
    (
        "DateGreaterThanEquals",
        [allow(**cond("DateGreaterThanEquals", "t", "2026-11-22T10:00:00Z"))],
        "events:PutRule",
        RULE,
        {"t": "2026-11-22T10:00:00+00:00"},
        A,
    ),
    (
        "DateEquals",
        [allow(**cond("DateEquals", "t", "2026-11-22T10:00:00Z"))],
        "events:PutRule",
        RULE,
        {"t": "2026-11-22T11:00:00+01:00"},
        A,
    ),
    (
        "DateNotEquals",
        [allow(**cond("DateNotEquals", "t", "2026-11-22T10:00:00Z"))],
        "events:PutRule",
        RULE,
        {"t": "2026-11-23T10:00:00Z"},
        A,
    ),
    (
        "DateLessThanEquals",
        [allow(**cond("DateLessThanEquals", "t", "2026-11-22"))],
        "events:PutRule",
        RULE,
        {"t": "2026-11-22T00:00:00Z"},
        A,
    ),
    # -- IP -----------------------------------------------------------------------------------
    (
        "IpAddress in range",
        [allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/24"))],
        "events:PutRule",
        RULE,
        {"aws:SourceIp": "203.0.113.7"},
        A,
    ),
    (
        "IpAddress out of range",
        [allow(**cond("IpAddress", "aws:SourceIp", "203.0.113.0/24"))],
        "events:PutRule",
        RULE,
        {"aws:SourceIp": "198.51.100.7"},
        ID,
    ),
    (
        "NotIpAddress",
        [allow(**cond("NotIpAddress", "aws:SourceIp", ["203.0.113.0/24", "10.0.0.0/8"]))],
        "events:PutRule",
        RULE,
        {"aws:SourceIp": "10.1.2.3"},
        ID,
    ),
    (
        "IpAddress IPv6",
        [allow(**cond("IpAddress", "aws:SourceIp", "2001:db8::/32"))],
        "events:PutRule",
        RULE,
        {"aws:SourceIp": "2001:db8::1"},
        A,
    ),
    # -- set qualifiers -----------------------------------------------------------------------
    (
        "ForAnyValue one matches",
        [allow(**cond("ForAnyValue:StringEquals", "aws:TagKeys", ["env", "team"]))],
        "events:PutRule",
        RULE,
        {"aws:TagKeys": ["owner", "env"]},
        A,
    ),
    (
        "ForAnyValue none matches",
        [allow(**cond("ForAnyValue:StringEquals", "aws:TagKeys", ["env"]))],
        "events:PutRule",
        RULE,
        {"aws:TagKeys": ["owner"]},
        ID,
    ),
    (
        "ForAnyValue missing key is false",
        [allow(**cond("ForAnyValue:StringEquals", "aws:TagKeys", ["env"]))],
        "events:PutRule",
        RULE,
        {},
        ID,
    ),
    (
        "ForAllValues all match",
        [allow(**cond("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team"]))],
        "events:PutRule",
        RULE,
        {"aws:TagKeys": ["env", "team"]},
        A,
    ),
    (
        "ForAllValues one outside",
        [allow(**cond("ForAllValues:StringEquals", "aws:TagKeys", ["env"]))],
        "events:PutRule",
        RULE,
        {"aws:TagKeys": ["env", "owner"]},
        ID,
    ),
    (
        "ForAllValues missing key is true",
        [allow(**cond("ForAllValues:StringEquals", "aws:TagKeys", ["env"]))],
        "events:PutRule",
        RULE,
        {},
        A,
    ),
    (
        "ForAllValues StringLike",
        [allow(**cond("ForAllValues:StringLike", "aws:TagKeys", ["app-*"]))],
        "events:PutRule",
        RULE,
        {"aws:TagKeys": ["app-a", "app-b"]},
        A,
    ),
    (
        "ForAnyValue StringNotEquals",
        [allow(**cond("ForAnyValue:StringNotEquals", "aws:TagKeys", ["env"]))],
        "events:PutRule",
        RULE,
        {"aws:TagKeys": ["env", "owner"]},
        A,
    ),
    # -- combining ----------------------------------------------------------------------------
    (
        "operators ANDed",
        [allow(Condition={"StringEquals": {"a": "1"}, "Bool": {"b": "true"}})],
        "events:PutRule",
        RULE,
        {"a": "1", "b": "false"},
        ID,
    ),
    (
        "keys under an operator ANDed",
        [allow(Condition={"StringEquals": {"a": "1", "b": "2"}})],
        "events:PutRule",
        RULE,
        {"a": "1", "b": "2"},
        A,
    ),
    (
        "keys ANDed, one fails",
        [allow(Condition={"StringEquals": {"a": "1", "b": "2"}})],
        "events:PutRule",
        RULE,
        {"a": "1", "b": "3"},
        ID,
    ),
]


@pytest.mark.parametrize(
    ("statements", "action", "resource", "context", "expected"),
    [pytest.param(s, a, r, c, e, id=i) for i, s, a, r, c, e in CASES],
)
def test_decision(
    statements: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any], expected: Decision
) -> None:
    policy = parse_policy({"Version": "2012-10-17", "Statement": statements})
    assert evaluate(policy, Request.make(action, resource, context)).decision is expected


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 60


# (id, statements, resource pattern, mode, expected) for resource *patterns* (must-allow / must-deny probes)
PATTERN_CASES = [
    (
        "all: allow covers pattern",
        [allow(resource="arn:aws:events:*:1:rule/app-*")],
        "arn:aws:events:eu:1:rule/app-X-*",
        "all",
        A,
    ),
    (
        "all: narrower allow does not cover",
        [allow(resource="arn:aws:events:eu:1:rule/app-X-1")],
        "arn:aws:events:eu:1:rule/app-X-*",
        "all",
        ID,
    ),
    (
        "all: overlapping deny spoils",
        [allow(), deny(resource="arn:aws:events:eu:1:rule/app-X-9")],
        "arn:aws:events:eu:1:rule/app-X-*",
        "all",
        ED,
    ),
    (
        "any: overlapping allow leaks",
        [allow(resource="arn:aws:events:*:1:rule/*")],
        "arn:aws:events:us:1:rule/app-*",
        "any",
        A,
    ),
    (
        "any: disjoint allow is safe",
        [allow(resource="arn:aws:events:eu:1:rule/app-*")],
        "arn:aws:events:us:1:rule/app-*",
        "any",
        ID,
    ),
    (
        "any: covering deny wins",
        [allow(), deny(resource="arn:aws:events:us:*")],
        "arn:aws:events:us:1:rule/app-*",
        "any",
        ED,
    ),
    (
        "any: partial deny does not",
        [allow(), deny(resource="arn:aws:events:us:1:rule/app-1")],
        "arn:aws:events:us:1:rule/app-*",
        "any",
        A,
    ),
    (
        "placeholder never matches",
        [allow(resource="arn:aws:events:{{unresolved:Region}}:1:rule/*")],
        "arn:aws:events:eu:1:rule/app-*",
        "all",
        ID,
    ),
]


@pytest.mark.parametrize(
    ("statements", "resource", "mode", "expected"), [pytest.param(*c[1:], id=c[0]) for c in PATTERN_CASES]
)
def test_pattern_modes(
    statements: list[dict[str, Any]], resource: str, mode: str, expected: Decision
) -> None:
    policy = parse_policy({"Statement": statements})
    assert evaluate(policy, Request.make("events:PutRule", resource), mode).decision is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("outer", "inner", "covers", "overlaps"),
    [
        ("a*", "ab*", True, True),
        ("ab*", "a*", False, True),
        ("a?", "a*", False, True),
        ("a*c", "ab", False, False),
        ("*", "anything*", True, True),
        ("x-*", "y-*", False, False),
        ("*a*", "*", False, True),
    ],
)
def test_covers_and_overlaps(outer: str, inner: str, covers: bool, overlaps: bool) -> None:
    assert patterns.covers(patterns.parse(outer), patterns.parse(inner)) is covers
    assert patterns.overlaps(patterns.parse(outer), patterns.parse(inner)) is overlaps


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringMatchesRegex": {"a": "b"}},
        },
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"ForAnyValue:Nul": {"a": "b"}}},
        {"Effect": "Permit", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Get*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotResource": "x"},
        {
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"a": {"nested": 1}}},
        },
    ],
    ids=[
        "unknown-operator",
        "misspelt-qualified-operator",
        "bad-effect",
        "action-and-notaction",
        "resource-and-notresource",
        "non-scalar-value",
    ],
)
def test_refuses_unevaluable_policies(statement: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_policy({"Statement": [statement]})
