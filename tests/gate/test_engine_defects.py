"""The IAM engine defects of issue 16, one table each (every row failed before the fix)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.gate import conditions, patterns
from harness.gate.iam import Decision, PolicyError, Request, evaluate, parse_policy, parse_statement

A, ID, ED = Decision.ALLOWED, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY


def decide(statement: dict[str, Any], context: dict[str, Any], resource: str = "*", **extra: Any) -> Decision:
    policy = parse_policy({"Version": "2012-10-17", "Statement": [statement]})
    return evaluate(policy, Request.make("s3:GetObject", resource, context), **extra).decision


def allow_if(op: str, key: str, value: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {op: {key: value}}}


# -- policy variables in IgnoreCase string operators and Bool -----------------------------------------
VARIABLE_CASES = [
    ("StringEqualsIgnoreCase", "${aws:username}", {"aws:username": "Alice", "k": "alice"}, A),
    ("StringEqualsIgnoreCase", "${aws:username}", {"aws:username": "bob", "k": "alice"}, ID),
    ("StringNotEqualsIgnoreCase", "${aws:username}", {"aws:username": "ALICE", "k": "alice"}, ID),
    ("StringNotEqualsIgnoreCase", "${aws:username}", {"aws:username": "bob", "k": "alice"}, A),
    ("Bool", "${aws:SecureTransport}", {"aws:SecureTransport": True, "k": "true"}, A),
    ("Bool", "${aws:SecureTransport}", {"aws:SecureTransport": False, "k": "true"}, ID),
    ("StringEquals", "${aws:username}", {"aws:username": "alice", "k": "alice"}, A),
    ("StringEquals", "${aws:username}", {"k": "alice"}, ID),  # the variable has no value
    ("StringEquals", "${aws:username, 'alice'}", {"k": "alice"}, A),  # its default does
    ("StringEquals", "x-${*}", {"k": "x-*"}, A),  # ${*} is a literal star
    ("StringEquals", "x-${*}", {"k": "x-y"}, ID),
]


@pytest.mark.parametrize(("op", "value", "context", "expected"), VARIABLE_CASES)
def test_policy_variables_in_every_string_operator(
    op: str, value: str, context: dict[str, Any], expected: Decision
) -> None:
    assert decide(allow_if(op, "k", value), context) is expected


def test_version_2008_keeps_variables_literal() -> None:
    stmt = allow_if("StringEquals", "k", "${aws:username}")
    policy = parse_policy({"Version": "2008-10-17", "Statement": [stmt]})
    literal = Request.make("s3:GetObject", "*", {"k": "${aws:username}", "aws:username": "x"})
    assert evaluate(policy, literal).allowed
    assert not evaluate(policy, Request.make("s3:GetObject", "*", {"k": "x", "aws:username": "x"})).allowed


# -- negated operators: malformed request value is no match; a missing key is -------------------------
NEGATED_CASES = [
    ("ArnNotLike", "arn:aws:s3:::b/*", "not-an-arn", ID),
    ("ArnNotLike", "arn:aws:s3:::b/*", "arn:aws:s3:::other/x", A),
    ("ArnNotLike", "arn:aws:s3:::b/*", None, A),  # the key is missing
    ("ArnNotEquals", "arn:aws:s3:::b", "arn:aws", ID),
    ("ArnNotEquals", "arn:aws:s3:::b", "arn:aws:s3:::c", A),
    ("ArnNotEquals", "arn:aws:s3:::b", "arn:aws:s3:::b", ID),
    ("NotIpAddress", "10.0.0.0/8", "not-an-ip", ID),
    ("NotIpAddress", "10.0.0.0/8", "192.168.0.1", A),
    ("NotIpAddress", "10.0.0.0/8", "10.1.2.3", ID),
    ("NotIpAddress", "10.0.0.0/8", None, A),
    ("NumericNotEquals", "10", "ten", ID),
    ("NumericNotEquals", "10", "11", A),
    ("NumericNotEquals", "10", "10.0", ID),
    ("NumericNotEquals", "10", None, A),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "yesterday", ID),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z", A),
    ("DateNotEquals", "2020-01-01T00:00:00Z", "1577836800", ID),  # the same instant as epoch seconds
    ("DateNotEquals", "2020-01-01T00:00:00Z", None, A),
    ("StringNotEquals", "a", "b", A),
    ("StringNotLike", "a*", "abc", ID),
    ("ForAnyValue:StringNotEquals", "a", None, ID),
    ("ForAllValues:StringNotEquals", "a", None, A),
    ("IpAddress", "10.0.0.0/8", "not-an-ip", ID),
    ("ArnLike", "arn:aws:s3:::b/*", "not-an-arn", ID),
]


@pytest.mark.parametrize(("op", "policy_value", "request_value", "expected"), NEGATED_CASES)
def test_uncomparable_values_never_match(
    op: str, policy_value: str, request_value: str | None, expected: Decision
) -> None:
    context = {} if request_value is None else {"k": request_value}
    assert decide(allow_if(op, "k", policy_value), context) is expected


# -- BinaryEquals, Null and set qualifiers ------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "given", "expected"),
    [
        ("QmluYXJ5", "QmluYXJ5", A),
        ("QmluYXJ5", "T3RoZXI=", ID),
        ("QmluYXJ5", "!!", ID),
        ("QmluYXJ5", None, ID),
    ],
)
def test_binary_equals(value: str, given: str | None, expected: Decision) -> None:
    context = {} if given is None else {"k": given}
    assert decide(allow_if("BinaryEquals", "k", value), context) is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"ForAllValues:Null": {"k": "true"}},
        {"ForAnyValue:Null": {"k": "false"}},
        {"NullIfExists": {"k": "true"}},
        {"Null": {"k": "yes"}},
        {"BinaryEquals": {"k": "not base64!"}},
        {"NumericLessThan": {"k": "1_000"}},
        {"NumericLessThan": {"k": " 10 "}},
        {"NumericLessThan": {"k": "NaN"}},
        {"NumericLessThan": {"k": "Infinity"}},
        {"NumericLessThan": {"k": "1e3"}},
        {"DateLessThan": {"k": "99999999999999999999"}},
        {"DateLessThan": {"k": "soon"}},
        {"IpAddress": {"k": "10.0.0.300/8"}},
        {"Bool": {"k": "yes"}},
        {"StringEquals": {"k": []}},
        {"StringEquals": {}},
        {"StringEquals": {"k": None}},
        {"StringEquals": {"k": {"nested": 1}}},
    ],
    ids=lambda c: next(iter(c)) + "=" + repr(next(iter(c.values())))[:30],
)
def test_malformed_condition_values_are_refused(condition: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_statement({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition})


def test_null_reads_true_and_false_only() -> None:
    assert decide(allow_if("Null", "k", "TRUE"), {}) is A
    assert decide(allow_if("Null", "k", "false"), {}) is ID
    assert decide(allow_if("Null", "k", False), {"k": "v"}) is A
    assert decide(allow_if("Null", "k", True), {"k": "v"}) is ID


def test_twenty_digit_epoch_in_a_request_is_no_match() -> None:
    stmt = allow_if("DateLessThan", "aws:CurrentTime", "2030-01-01T00:00:00Z")
    assert decide(stmt, {"aws:CurrentTime": "99999999999999999999"}) is ID
    assert decide(stmt, {"aws:CurrentTime": "1700000000"}) is A


@pytest.mark.parametrize(
    "text", ["1_000", " 10 ", "NaN", "Infinity", "-inf", "1e3", "", "+", "5.", ".5", "٣"]
)
def test_numbers_are_plain_decimals(text: str) -> None:
    assert conditions.number(text) is None
    assert decide(allow_if("NumericLessThan", "k", "100"), {"k": text}) is ID


def test_context_value_none_is_refused() -> None:
    with pytest.raises(PolicyError, match="null"):
        Request.make("s3:GetObject", "*", {"k": None})


# -- fail closed on malformed statements --------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "s3:*"},  # no Resource: not "*"
        {"Effect": "Allow", "Action": "s3:*", "Resources": "arn:aws:s3:::other"},  # typo
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": []},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": ""},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Conditions": {}},
        {"Effect": "Allow", "Action": [], "Resource": "*"},
        {"Effect": "Allow", "Action": "s3GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": ""},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "my-bucket"},
        {"Effect": "allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"},  # identity policy
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Sid": 7},
    ],
)
def test_malformed_statements_are_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_statement(statement)


def test_trust_statements_need_a_principal_and_no_resource() -> None:
    ok = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
    assert parse_statement(ok, kind="trust").principals == {"Service": ("lambda.amazonaws.com",)}
    with pytest.raises(PolicyError):
        parse_statement({**ok, "Resource": "*"}, kind="trust")
    with pytest.raises(PolicyError):
        parse_statement({"Effect": "Allow", "Action": "sts:AssumeRole"}, kind="trust")
    with pytest.raises(PolicyError):
        parse_statement({**ok, "Principal": {"Robot": "x"}}, kind="trust")


@pytest.mark.parametrize(
    "document",
    [{"Version": "2012-10-18", "Statement": []}, {"Statement": [], "Extra": 1}, {"Version": "2012-10-17"}],
)
def test_malformed_documents_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_policy(document)


def test_principal_mismatch_does_not_apply() -> None:
    stmt = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::1:root"}}
    policy = parse_policy({"Version": "2012-10-17", "Statement": [stmt]}, kind="trust")
    other = Request.make("sts:AssumeRole", "*", principal=("AWS", "arn:aws:iam::2:root"))
    same = Request.make("sts:AssumeRole", "*", principal=("AWS", "arn:aws:iam::1:root"))
    wild = Request.make("sts:AssumeRole", "*", principal=("AWS", "arn:aws:iam::*:root"))
    assert evaluate(policy, same).allowed
    assert not evaluate(policy, other).allowed
    assert not evaluate(policy, wild).allowed  # principals are not wildcard patterns
    notp = {"Effect": "Deny", "Action": "sts:AssumeRole", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}}
    policy = parse_policy({"Version": "2012-10-17", "Statement": [stmt, notp]}, kind="trust")
    assert evaluate(policy, same).allowed
    assert evaluate(policy, other).decision is ED


# -- linear-time wildcards --------------------------------------------------------------------------
def _bounded(fn: Any, *args: Any, limit: float = 0.25) -> Any:
    started = time.perf_counter()
    result = fn(*args)
    assert time.perf_counter() - started < limit, "wildcard matching is not linear"
    return result


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*a" * 20 + "*b", "a" * 10_000, False),
        ("*a" * 20 + "*", "a" * 10_000, True),
        ("*?a" * 20 + "*b", "a" * 10_000, False),
        ("a*" * 20 + "c", "a" * 9_999 + "b", False),
        ("*" + "a?" * 10 + "*" + "b*" * 10, "a" * 10_000, False),
        ("*" * 20 + "x", "y" * 10_000 + "x", True),
        ("arn:aws:s3:::bucket/*/*/*/*/*/*/*/*.json", "arn:aws:s3:::bucket/" + "a/" * 72 + "b", False),
        ("?" * 10_000, "z" * 10_000, True),
    ],
    ids=lambda v: f"{str(v)[:12]}..{len(str(v))}" if isinstance(v, str) else str(v),
)
def test_adversarial_patterns_match_in_milliseconds(pattern: str, text: str, expected: bool) -> None:
    assert _bounded(patterns.matches, patterns.parse(pattern), text) is expected
    upper = patterns.parse(pattern.upper())
    assert _bounded(lambda: patterns.matches(upper, text, ignore_case=True)) is expected


def test_one_megabyte_inputs_stay_linear() -> None:
    text = "ab" * 500_000
    assert _bounded(patterns.matches, patterns.parse("*a?" * 20 + "*c"), text, limit=2.0) is False
    assert _bounded(patterns.matches, patterns.parse("*b" * 20), text, limit=2.0) is True


@pytest.mark.parametrize("size", [500, 5_000])
def test_coverage_checks_are_iterative(size: int) -> None:
    long = patterns.parse("*a" * size)
    assert _bounded(patterns.covers, long, long, limit=2.0)
    assert _bounded(patterns.overlaps, long, patterns.parse("a*" * size), limit=2.0)
    assert not _bounded(patterns.covers, patterns.parse("a" * size), patterns.parse("a" * (size - 1) + "?"))


def test_resource_with_twenty_stars_evaluates_quickly() -> None:
    stmt = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "*/" * 20 + "*.json"}
    policy = parse_policy({"Version": "2012-10-17", "Statement": [stmt]})
    request = Request.make("s3:GetObject", "arn:aws:s3:::b/" + "x/" * 5_000 + "y.txt")
    assert _bounded(evaluate, policy, request).decision is ID


def _regex_match(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """Reference semantics (tests only, short inputs): the backtracking matcher the engine replaced."""
    import re

    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(body, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


GLOB = st.text(alphabet="ab*?:/", max_size=10)
TEXT = st.text(alphabet="abAB:/", max_size=12)


@settings(max_examples=600, deadline=None)
@given(GLOB, TEXT)
def test_matcher_agrees_with_reference(pattern: str, text: str) -> None:
    assert patterns.matches(patterns.parse(pattern), text) is _regex_match(pattern, text)
    assert patterns.matches(patterns.parse(pattern), text, ignore_case=True) is _regex_match(
        pattern, text, True
    )


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab*?", max_size=5), st.text(alphabet="ab*?", max_size=5), st.text("ab", max_size=7))
def test_coverage_and_overlap_are_sound(outer: str, inner: str, witness: str) -> None:
    o, i = patterns.parse(outer), patterns.parse(inner)
    if patterns.covers(o, i) and _regex_match(inner, witness):
        assert _regex_match(outer, witness)
    if _regex_match(outer, witness) and _regex_match(inner, witness):
        assert patterns.overlaps(o, i)


SCALAR = st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=True))
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
OPERATOR = st.sampled_from(
    ["StringEquals", "StringLike", "ArnLike", "NumericLessThan", "DateGreaterThan", "Bool", "Null",
     "IpAddress", "BinaryEquals", "ForAllValues:StringEquals", "ForAnyValue:NumericEquals",
     "NotIpAddressIfExists", "Bogus"]
)  # fmt: skip
STATEMENT = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny", "allow", 1])},
    optional={
        "Action": st.one_of(st.sampled_from(["s3:*", "*", "s3:Get?bject", ""]), VALUE),
        "Resource": st.one_of(st.sampled_from(["*", "arn:aws:s3:::b/*", "x"]), VALUE),
        "NotResource": VALUE,
        "Condition": st.one_of(
            st.dictionaries(OPERATOR, st.dictionaries(st.text(max_size=5), VALUE, max_size=2), max_size=2),
            VALUE,
        ),
        "Sid": VALUE,
        "Extra": VALUE,
    },
)


@settings(max_examples=400, deadline=None)
@given(
    STATEMENT,
    st.dictionaries(
        st.text(max_size=5), st.one_of(st.text(max_size=12), st.lists(st.text(max_size=5), max_size=3))
    ),
)
def test_hostile_statements_are_parsed_or_refused_never_crash(
    statement: dict[str, Any], context: dict[str, Any]
) -> None:
    try:
        (parsed,) = parse_policy({"Version": "2012-10-17", "Statement": [statement]})
    except PolicyError:
        return
    with contextlib.suppress(PolicyError):
        evaluate([parsed], Request.make("s3:GetObject", "arn:aws:s3:::b/k", context))
