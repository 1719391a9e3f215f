"""Rows for the decisions mutation testing found unpinned in iam.py, conditions.py and patterns.py.

Each test names the decision it holds: principals, NotResource in the probe modes, case in
coverage checks, ARN segments with colons, epoch bounds, element shapes, variables.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.gate import conditions, patterns
from harness.gate.iam import (
    Decision,
    PolicyError,
    Request,
    evaluate,
    is_allowed,
    parse_policy,
    parse_statement,
)

A, ID, ED = Decision.ALLOWED, Decision.IMPLICIT_DENY, Decision.EXPLICIT_DENY
P = patterns.parse


def policy(*statements: dict[str, Any], version: str = "2012-10-17", kind: str = "identity") -> list[Any]:
    return parse_policy({"Version": version, "Statement": list(statements)}, kind=kind)  # type: ignore[arg-type]


def allow(**elements: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "events:PutRule", "Resource": "*", **elements}


# -- principals (trust policies) -------------------------------------------------------------------
TRUST = {"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity"}


@pytest.mark.parametrize(
    ("principal", "request_principal", "expected"),
    [
        ("*", ("Federated", "arn:aws:iam::1:oidc-provider/x"), A),
        ({"AWS": "*"}, ("AWS", "arn:aws:iam::1:root"), A),
        ({"AWS": "*"}, ("Federated", "arn:x"), ID),  # "*" under one type admits only that type
        ({"Federated": "arn:x"}, ("Federated", "arn:x"), A),
        ({"Federated": "arn:x"}, ("Federated", "arn:y"), ID),
        ({"Federated": "arn:x"}, ("Service", "arn:x"), ID),
        ({"CanonicalUser": "abc"}, ("CanonicalUser", "abc"), A),
        ({"AWS": "arn:aws:iam::*:root"}, ("AWS", "arn:aws:iam::1:root"), ID),  # no wildcards but "*"
        ({"Service": ["a.amazonaws.com", "b.amazonaws.com"]}, ("Service", "b.amazonaws.com"), A),
    ],
)
def test_principal_matching(principal: Any, request_principal: tuple[str, str], expected: Decision) -> None:
    statements = policy({**TRUST, "Principal": principal}, kind="trust")
    got = evaluate(statements, Request.make(TRUST["Action"], principal=request_principal)).decision
    assert got is expected


@pytest.mark.parametrize("principal", [{}, "someone", ["*"], {"AWS": []}, {"AWS": [1]}, {"Robot": "x"}])
def test_malformed_principals_are_refused(principal: Any) -> None:
    with pytest.raises(PolicyError):
        parse_statement({**TRUST, "Principal": principal}, kind="trust")


def test_a_request_without_principal_ignores_principal_elements() -> None:
    statements = policy({**TRUST, "Principal": {"AWS": "arn:aws:iam::1:root"}}, kind="trust")
    assert evaluate(statements, Request.make(TRUST["Action"])).allowed


# -- NotResource in the probe modes ------------------------------------------------------------------
RULES = "arn:aws:events:eu-west-1:1:rule/"


@pytest.mark.parametrize(
    ("statements", "probe", "mode", "expected"),
    [
        # Allow NotResource other-*: every app-* rule lies outside it ("all" holds)
        ([allow(NotResource=RULES + "other-*", Resource=None)], RULES + "app-*", "all", A),
        # ... but not every rule at all: some match other-* ("all" fails)
        ([allow(NotResource=RULES + "other-*", Resource=None)], RULES + "*", "all", ID),
        # "any": some rule outside other-* exists
        ([allow(NotResource=RULES + "other-*", Resource=None)], RULES + "*", "any", A),
        # "any": no other-x-* rule lies outside other-*
        ([allow(NotResource=RULES + "other-*", Resource=None)], RULES + "other-x-*", "any", ID),
        # Deny NotResource app-*: a probe inside app-* is spared, a wider one is denied somewhere
        (
            [allow(), {**allow(Effect="Deny", NotResource=RULES + "app-*"), "Resource": None}],
            RULES + "app-1*",
            "all",
            A,
        ),
        (
            [allow(), {**allow(Effect="Deny", NotResource=RULES + "app-*"), "Resource": None}],
            RULES + "*",
            "all",
            ED,
        ),
        (
            [allow(), {**allow(Effect="Deny", NotResource=RULES + "app-*"), "Resource": None}],
            RULES + "*",
            "any",
            A,
        ),
        (
            [allow(), {**allow(Effect="Deny", NotResource=RULES + "app-*"), "Resource": None}],
            RULES + "b-*",
            "any",
            ED,
        ),
        # a concrete resource in a pattern mode is decided exactly
        ([allow(Resource=RULES + "app-*")], RULES + "app-1", "all", A),
        ([allow(Resource=RULES + "app-*")], RULES + "bpp-1", "any", ID),
    ],
)
def test_not_resource_in_probe_modes(
    statements: list[dict[str, Any]], probe: str, mode: str, expected: Decision
) -> None:
    cleaned = [{k: v for k, v in s.items() if v is not None} for s in statements]
    assert evaluate(policy(*cleaned), Request.make("events:PutRule", probe), mode).decision is expected  # type: ignore[arg-type]


def test_results_name_the_deciding_statements() -> None:
    statements = policy(allow(Sid="A"), {**allow(Sid="D"), "Effect": "Deny"})
    result = evaluate(statements, Request.make("events:PutRule"))
    assert [s.sid for s in result.allowed_by] == ["A"] and [s.sid for s in result.denied_by] == ["D"]
    result = evaluate(statements[:1], Request.make("events:PutRule"))
    assert [s.sid for s in result.allowed_by] == ["A"] and result.denied_by == ()


def test_is_allowed_helper() -> None:
    statements = policy(
        allow(Resource=RULES + "app-*"), {**allow(Resource=RULES + "app-x"), "Effect": "Deny"}
    )
    assert is_allowed(statements, "events:PutRule", RULES + "app-1")
    assert not is_allowed(statements, "events:PutRule", RULES + "app-x")
    assert not is_allowed(statements, "events:DeleteRule", RULES + "app-1")
    keyed = policy(allow(Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}))
    assert is_allowed(keyed, "events:PutRule", "*", **{"aws:RequestedRegion": "eu-west-1"})
    assert not is_allowed(keyed, "events:PutRule", "*")


# -- coverage and overlap: case and "?" ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("outer", "inner", "covers", "covers_ic", "overlaps", "overlaps_ic"),
    [
        ("ABC*", "abc-*", False, True, False, True),
        ("a?c", "abc", True, True, True, True),
        ("a?c", "aBc", True, True, True, True),
        ("a?c", "a*c", False, False, True, True),
        ("abc", "a?c", False, False, True, True),
        ("*X*", "*x*", False, True, True, True),
        ("a**b", "a*b", True, True, True, True),
        ("a*", "**", False, False, True, True),
        ("ab", "a**", False, False, True, True),
        ("xa", "***a", False, False, True, True),
        ("b", "a***", False, False, False, False),
        ("a?", "?*", False, False, True, True),
        ("??", "?", False, False, False, False),
        ("?*", "a", True, True, True, True),
        ("abc*", "ABC-*", False, True, False, True),  # the inner side is folded too
        ("abc", "A?C", False, False, False, True),
    ],
)
def test_coverage_and_overlap_case(
    outer: str, inner: str, covers: bool, covers_ic: bool, overlaps: bool, overlaps_ic: bool
) -> None:
    assert patterns.covers(P(outer), P(inner)) is covers
    assert patterns.covers(P(outer), P(inner), ignore_case=True) is covers_ic
    assert patterns.overlaps(P(outer), P(inner)) is overlaps
    assert patterns.overlaps(P(outer), P(inner), ignore_case=True) is overlaps_ic


def test_wildcard_detection_and_text() -> None:
    assert not patterns.has_wildcard(P("abc"))
    assert patterns.has_wildcard(P("a*")) and patterns.has_wildcard(P("a?"))
    assert not patterns.has_wildcard(patterns.literal("a*?"))
    assert patterns.to_text(P("a*b?")) == "a*b?"
    escaped = patterns.substitute("x${*}${?}${$}", {})
    assert escaped is not None and not patterns.has_wildcard(escaped) and patterns.to_text(escaped) == "x*?$"


def test_fold_keeps_length_for_growing_characters() -> None:
    assert patterns.fold("ABC") == "abc"
    assert patterns.fold("İx") == "İx" and len(patterns.fold("İX")) == 2 and patterns.fold("İX")[1] == "x"
    assert patterns.matches(P("İ*"), "İX", ignore_case=True)
    assert patterns.matches(P("a?c"), "ABC", ignore_case=True)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("a?c", "ab", False),  # the piece runs past the end
        ("*a?c", "xab", False),
        ("*a?c", "xabc", True),
        ("*a?c*d", "abcd", True),
        ("*b?*b?", "bxby", True),
        ("*b?*b?", "bxb", False),
        ("ab*", "a", False),
        ("*ab", "b", False),
        ("a*b*c", "abc", True),
        ("a*?*c", "ac", False),
        ("a*?*c", "axc", True),
        ("*?", "", False),
        ("*", "", True),
        ("", "", True),
        ("", "a", False),
    ],
)
def test_matcher_edges(pattern: str, text: str, expected: bool) -> None:
    assert patterns.matches(P(pattern), text) is expected


# -- policy variables --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "context", "expected"),
    [
        ("home/${aws:username}/x", {"aws:username": ["al"]}, "home/al/x"),
        ("${a}${b}", {"a": ["1"], "b": ["2"]}, "12"),
        ("${a}-${b}", {"a": ["1"], "b": ["2"]}, "1-2"),
        ("${ a }", {"a": ["1"]}, "1"),
        ("${a, 'd'}", {}, "d"),
        ("${a, ''}", {}, ""),
        ("${a,'d'}", {}, "d"),
        ("${a, d}", {}, None),  # the default must be quoted
        ("${a}", {}, None),
        ("${a}", {"a": ["1", "2"]}, None),  # multivalued: not substituted
        ("${A}", {"a": ["1"]}, "1"),  # key names are case-insensitive
        ("x${", {}, "x${"),
        ("x}${a}", {"a": ["1"]}, "x}1"),
        ("${*}${a}", {"a": ["1"]}, "*1"),
    ],
)
def test_substitution(text: str, context: dict[str, list[str]], expected: str | None) -> None:
    got = patterns.substitute(text, context)
    assert (None if got is None else patterns.to_text(got)) == expected


def test_substituted_text_is_literal() -> None:
    got = patterns.substitute("b/${k}", {"k": ["*"]})
    assert got is not None and not patterns.has_wildcard(got)
    assert patterns.matches(got, "b/*") and not patterns.matches(got, "b/x")


@pytest.mark.parametrize(
    ("version", "resource", "expected"),
    [("2012-10-17", "arn:aws:s3:::b/al", A), ("2008-10-17", "arn:aws:s3:::b/al", ID),
     ("2008-10-17", "arn:aws:s3:::b/${aws:username}", A)],
)  # fmt: skip
def test_versions_and_variables_in_resources_and_like(
    version: str, resource: str, expected: Decision
) -> None:
    statements = policy(
        allow(Action="s3:GetObject", Resource="arn:aws:s3:::b/${aws:username}"), version=version
    )
    got = evaluate(statements, Request.make("s3:GetObject", resource, {"aws:username": "al"})).decision
    assert got is expected
    like = policy(allow(Condition={"StringLike": {"k": "${aws:username}*"}}), version=version)
    literal = "${aws:username}-x" if version == "2008-10-17" else "al-x"
    assert evaluate(like, Request.make("events:PutRule", "*", {"k": literal, "aws:username": "al"})).allowed


def test_parse_statement_substitutes_variables_by_default() -> None:
    stmt = parse_statement(allow(Resource="arn:aws:s3:::b/${aws:username}"))
    assert evaluate(
        [stmt], Request.make("events:PutRule", "arn:aws:s3:::b/al", {"aws:username": "al"})
    ).allowed
    assert conditions.evaluate({"StringEquals": {"k": "${u}"}}, {"k": ["x"], "u": ["x"]})
    assert conditions.evaluate_key("StringEquals", "k", "${u}", {"k": ["x"], "u": ["x"]})


# -- ARNs with colons, epochs, addresses, JSON booleans -----------------------------------------------
LOGS = "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:log-stream:2024"


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:logs:us-east-1:1:log-group:/aws/lambda/f:*", LOGS, A),
        ("arn:aws:logs:*:1:log-group:/aws/lambda/f:log-stream:2024", LOGS, A),
        ("arn:aws:logs:us-east-1:1:log-group:/aws/lambda/g:*", LOGS, ID),
        ("arn:aws:logs:us-east-1:1:*", LOGS, A),
        ("arn:aws:logs:us-east-1:2:*", LOGS, ID),
        ("arn:aws:iam::1:user/${aws:username}", "arn:aws:iam::1:user/al", A),
        ("arn:aws:iam::1:user/${aws:userid}", "arn:aws:iam::1:user/al", ID),  # no value: no match
        ("arn:aws:iam::1:user/*", "arn:aws:iam::1:user/al:x", A),
        ("arn:aws:logs:us-east-1:1", LOGS, ID),  # five segments never match (and never crash)
    ],
)
def test_arn_like_segments(pattern: str, value: str, expected: Decision) -> None:
    statements = policy(allow(Condition={"ArnLike": {"aws:SourceArn": pattern}}))
    context = {"aws:SourceArn": value, "aws:username": "al"}
    assert evaluate(statements, Request.make("events:PutRule", "*", context)).decision is expected


@pytest.mark.parametrize(
    ("epoch", "ok"),
    [("-62135596800", True), ("-62135596801", False), ("253402300799", True), ("253402300800", False),
     ("0", True), ("+5", True), ("-5", True), ("1.5", True)],
)  # fmt: skip
def test_epoch_bounds(epoch: str, ok: bool) -> None:
    assert (conditions.date(epoch) is not None) is ok
    assert conditions.date("2020-01-01T00:00:00z") == conditions.date("2020-01-01T00:00:00Z")
    assert conditions.date("2020-01-01") == conditions.date("2020-01-01T00:00:00+00:00")
    assert conditions.date("soon") is None and conditions.date("٢٠٢٠-01-01") is None


def test_network_with_host_bits_and_versions() -> None:
    statements = policy(allow(Condition={"IpAddress": {"aws:SourceIp": "203.0.113.7/24"}}))
    assert evaluate(
        statements, Request.make("events:PutRule", "*", {"aws:SourceIp": "203.0.113.200"})
    ).allowed
    statements = policy(allow(Condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    assert evaluate(statements, Request.make("events:PutRule", "*", {"aws:SourceIp": "2001:db8::1"})).allowed


def test_json_booleans_are_the_strings_true_and_false() -> None:
    statements = policy(allow(Condition={"StringEquals": {"k": True}}))
    assert evaluate(statements, Request.make("events:PutRule", "*", {"k": "true"})).allowed
    assert not evaluate(statements, Request.make("events:PutRule", "*", {"k": "TRUE"})).allowed
    statements = policy(allow(Condition={"StringEquals": {"k": False}}))
    assert evaluate(statements, Request.make("events:PutRule", "*", {"k": False})).allowed
    statements = policy(allow(Condition={"StringEquals": {"k": "true"}}))
    assert evaluate(statements, Request.make("events:PutRule", "*", {"k": True})).allowed


# -- element shapes ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        allow(Action="s3:"),
        allow(Action=":GetObject"),
        allow(Action=[1]),
        allow(Action=["s3:GetObject", ""]),
        allow(Resource=[True]),
        allow(Condition={"StringEquals": "x"}),
        allow(Condition={"StringEquals": []}),
    ],
)
def test_element_shapes_are_refused(statement: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_statement(statement)


@pytest.mark.parametrize("block", [{"StringEquals": "x"}, {"StringEquals": {}}, [], "x"])
def test_evaluating_an_unchecked_block_refuses_shapes(block: Any) -> None:
    with pytest.raises(conditions.UnsupportedCondition):
        conditions.evaluate(block, {})


@pytest.mark.parametrize("value", [{"a": 1}, [None], [["x"]], object()])
def test_request_context_values_must_be_scalars(value: Any) -> None:
    with pytest.raises(PolicyError):
        Request.make("s3:GetObject", "*", {"k": value})


def test_request_context_formats_booleans_and_numbers() -> None:
    request = Request.make("s3:GetObject", context={"B": True, "f": False, "n": 3, "l": ["x", 1]})
    assert request.context == {"b": ["true"], "f": ["false"], "n": ["3"], "l": ["x", "1"]}
    assert request.resource == "*"


def test_lines_of_elements_and_entries() -> None:
    stmt = parse_statement(allow(), line=7, lines={"Action": 8, "Action:events:PutRule": 9, "Resource": 10})
    assert stmt.line_of("Action", "events:PutRule") == 9
    assert stmt.line_of("Action", "events:Other") == 8
    assert stmt.line_of("Action") == 8
    assert stmt.line_of("Condition") == 7
    assert parse_statement(allow(), line=3).line_of("Action", "x") == 3


# -- exhaustive small patterns: overlap is exact, coverage is sound -------------------------------------
def _small_patterns(max_tokens: int) -> list[str]:
    from itertools import product

    return ["".join(p) for n in range(max_tokens + 1) for p in product("a*?", repeat=n)]


def _language(pattern: str, strings: list[str]) -> frozenset[str]:
    import re

    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    rx = re.compile(body, re.DOTALL)
    return frozenset(s for s in strings if rx.fullmatch(s))


def test_overlap_is_exact_and_coverage_sound_on_every_small_pair() -> None:
    from itertools import product

    strings = ["".join(p) for n in range(7) for p in product("ab", repeat=n)]
    longer, shorter = _small_patterns(4), _small_patterns(2)
    lang = {p: _language(p, strings) for p in set(longer) | set(shorter)}
    for x, y in [*product(shorter, longer), *product(longer, shorter)]:
        overlap = bool(lang[x] & lang[y])
        assert patterns.overlaps(P(x), P(y)) is overlap, (x, y)
        if patterns.covers(P(x), P(y)):
            assert lang[y] <= lang[x], (x, y)


@pytest.mark.parametrize(
    ("pattern", "text", "ignore_case", "expected"),
    [
        ("ABC", "ABC", False, True),
        ("ABC", "abc", False, False),
        ("ABC", "abc", True, True),
        ("A?C", "ABC", False, True),
        ("A?C", "abc", False, False),
        ("A?C", "abc", True, True),
        ("*A?C*", "xabcx", True, True),
        ("*A?C*", "xabcx", False, False),
        ("ab?", "bbx", False, False),  # a character allowed at one position only
        ("*a?*b?*", "axby", False, True),  # a middle piece resumes right after the previous one
        ("*a?*b?*", "axb", False, False),
        ("*b*b", "xb", False, False),  # a middle piece may not use the characters of the last
        ("*b?*b", "xbyb", False, True),
        ("*ab*ab*", "abxx", False, False),  # the second piece is searched after the first
        ("*ab*ab*", "abab", False, True),
    ],
)
def test_matcher_case_and_piece_positions(pattern: str, text: str, ignore_case: bool, expected: bool) -> None:
    assert patterns.matches(P(pattern), text, ignore_case=ignore_case) is expected


def test_empty_variable_has_no_value() -> None:
    assert patterns.substitute("a${}b", {"": ["x"]}) is None
    assert patterns.substitute("a${ }b", {}) is None


def test_statement_as_one_mapping_and_notresource_variables() -> None:
    one = parse_policy({"Version": "2012-10-17", "Statement": allow(Sid="only")})
    assert [s.sid for s in one] == ["only"]
    deny_outside_home = {
        "Effect": "Deny",
        "Action": "s3:*",
        "NotResource": "arn:aws:s3:::b/${aws:username}/*",
    }
    statements = policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, deny_outside_home)
    context = {"aws:username": "al"}
    assert evaluate(statements, Request.make("s3:GetObject", "arn:aws:s3:::b/al/f", context)).allowed
    assert evaluate(statements, Request.make("s3:GetObject", "arn:aws:s3:::b/bo/f", context)).decision is ED


def test_exact_mode_reads_a_star_request_literally() -> None:
    statements = policy(allow(Resource="arn:aws:s3:::b"))
    assert (
        evaluate(statements, Request.make("events:PutRule")).decision is ID
    )  # resource "*" is not a pattern
    assert evaluate(statements, Request.make("events:PutRule"), "any").decision is A


@pytest.mark.parametrize(("value", "kind"), [(None, "null"), ({"a": 1}, "dict"), ([["x"]], "list")])
def test_refusals_name_the_shape_of_a_bad_value(value: Any, kind: str) -> None:
    with pytest.raises(PolicyError, match=f"a value is a {kind},"):
        Request.make("s3:GetObject", "*", {"k": value})
    with pytest.raises(PolicyError, match=f"StringEquals/k: a condition value is a {kind},"):
        parse_statement(allow(Condition={"StringEquals": {"k": value if kind != "list" else [["x"]]}}))


def test_not_resource_with_a_star_request_in_exact_mode() -> None:
    outside = policy(*[{k: v for k, v in allow(NotResource="arn:aws:s3:::b/*").items() if k != "Resource"}])
    assert evaluate(outside, Request.make("events:PutRule")).decision is A  # "*" is a name outside b/*
    deny = {k: v for k, v in allow(Effect="Deny", NotResource="arn:aws:s3:::b/*").items() if k != "Resource"}
    assert evaluate(policy(allow(), deny), Request.make("events:PutRule")).decision is ED


def test_not_resource_variables_follow_the_version() -> None:
    stmt = {k: v for k, v in allow(NotResource="arn:aws:s3:::b/${aws:username}").items() if k != "Resource"}
    request = Request.make("events:PutRule", "arn:aws:s3:::b/al", {"aws:username": "al"})
    assert evaluate(policy(stmt), request).decision is ID  # 2012-10-17: substituted, inside: not applied
    assert evaluate(policy(stmt, version="2008-10-17"), request).decision is A  # literal: outside


@pytest.mark.parametrize(
    ("document", "kind", "message"),
    [
        ({"Statement": ["x"]}, "identity", "/Statement/0: a statement must be a mapping"),
        (
            {"Statement": [{**allow(), "Resources": "*"}]},
            "identity",
            "element 'Resources' is not valid in an identity",
        ),
        ({"Statement": [{**allow(), "Effect": "allow"}]}, "identity", "Effect must be Allow or Deny"),
        ({"Statement": [{**allow(), "NotAction": "x:y"}]}, "identity", "exactly one of Action / NotAction"),
        (
            {"Statement": [{**allow(), "NotResource": "*"}]},
            "identity",
            "exactly one of Resource / NotResource",
        ),
        ({"Statement": [TRUST]}, "trust", "a trust statement needs exactly one of Principal / NotPrincipal"),
        ({"Statement": [{**allow(), "Sid": 1}]}, "identity", "Sid must be a string"),
        (
            {"Statement": [allow(Action="s3")]},
            "identity",
            "pol/Statement/0: Action: an entry is not service:action or * (str, 2 chars)",
        ),
        (
            {"Statement": [{"Effect": "Allow", "NotAction": "s3", "Resource": "*"}]},
            "identity",
            "pol/Statement/0: NotAction: an entry is not service:action",
        ),
        (
            {"Statement": [allow(Resource="b")]},
            "identity",
            "pol/Statement/0: Resource: an entry is neither * nor an ARN (str, 1 chars)",
        ),
        (
            {"Statement": [allow(Action=[])]},
            "identity",
            "Action must be a non-empty string or a list of them",
        ),
        (
            {"Statement": [{**TRUST, "Principal": "x"}]},
            "trust",
            "Principal must be '*' or a non-empty mapping",
        ),
        (
            {"Statement": [{**TRUST, "Principal": {"Robot": "x"}}]},
            "trust",
            "Principal: unknown principal type 'Robot'",
        ),
        (
            {"Statement": [{**TRUST, "Principal": {"AWS": []}}]},
            "trust",
            "pol/Statement/0: Principal.AWS must be a non-empty string",
        ),
        ({"Statement": [allow(Condition={"X": {"k": "v"}})]}, "identity", "unknown condition operator 'X'"),
        ({}, "identity", "pol: a policy document needs a Statement element"),
        ({"Statement": [], "Bad": 1}, "identity", "pol: element 'Bad' is not valid in a policy document"),
        ({"Statement": [], "Version": "1"}, "identity", "pol: Version must be 2012-10-17 or 2008-10-17"),
    ],
)
def test_refusal_messages_name_the_element(document: dict[str, Any], kind: str, message: str) -> None:
    with pytest.raises(PolicyError) as exc:
        parse_policy({"Version": "2012-10-17", **document}, "pol", kind=kind)  # type: ignore[arg-type]
    assert message in str(exc.value)
    if "Statement/0" in message or "element" in message or "Effect" in message:
        assert str(exc.value).startswith("pol")


def test_unevaluable_condition_at_evaluation_names_source_and_line() -> None:
    from harness.gate.iam import Statement

    stmt = Statement(
        "Allow", actions=("s3:*",), resources=("*",), condition={"Bogus": {"k": "v"}}, source="p", line=4
    )
    with pytest.raises(PolicyError, match=r"^p \(line 4\): unknown condition operator 'Bogus'"):
        evaluate([stmt], Request.make("s3:GetObject"))
