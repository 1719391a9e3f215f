"""IAM evaluation conformance cases from the IAM User Guide's documented semantics (identity policies).

Every case names the User Guide section it follows (``SECTIONS``). The cases are written
from the documentation, not from the engine: operator tables list a policy value, a request
value and whether the documentation says they match; each row becomes an Allow case (the
request is allowed or implicitly denied) and a Deny case beside an Allow of everything
(explicitly denied or allowed), plus the missing-key and ``IfExists`` rows the condition
pages spell out. ``refuse`` cases are policies outside the engine's scope or malformed per
the policy grammar: the engine must refuse them, never guess.
"""

from __future__ import annotations

from typing import Any

GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
SECTIONS = {
    "eval": "reference_policies_evaluation-logic.html#policy-eval-denyallow",
    "action": "reference_policies_elements_action.html",
    "notaction": "reference_policies_elements_notaction.html",
    "resource": "reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards",
    "notresource": "reference_policies_elements_notresource.html",
    "condition": "reference_policies_elements_condition.html#AccessPolicyLanguage_Condition_Multiple",
    "keycase": "reference_policies_elements_condition.html",
    "string": "reference_policies_elements_condition_operators.html#Conditions_String",
    "numeric": "reference_policies_elements_condition_operators.html#Conditions_Numeric",
    "date": "reference_policies_elements_condition_operators.html#Conditions_Date",
    "bool": "reference_policies_elements_condition_operators.html#Conditions_Boolean",
    "binary": "reference_policies_elements_condition_operators.html#Conditions_BinaryEquals",
    "ip": "reference_policies_elements_condition_operators.html#Conditions_IPAddress",
    "arn": "reference_policies_elements_condition_operators.html#Conditions_ARN",
    "ifexists": "reference_policies_elements_condition_operators.html#Conditions_IfExists",
    "null": "reference_policies_elements_condition_operators.html#Conditions_Null",
    "missing": "reference_policies_elements_condition_operators.html",  # "If the key ... is not present"
    "multi": "reference_policies_condition-single-vs-multi-valued-context-keys.html",
    "vars": "reference_policies_variables.html#policy-vars-using-variables",
    "vardefault": "reference_policies_variables.html#policy-vars-default-values",
    "special": "reference_policies_variables.html#policy-vars-specialchars",
    "novalue": "reference_policies_variables.html#policy-vars-no-value",
    "version": "reference_policies_elements_version.html",
    "grammar": "reference_policies_grammar.html",
    "principal": "reference_policies_elements_principal.html",
}
A, ID, ED, REFUSE = "allowed", "implicit-deny", "explicit-deny", "refuse"
Case = tuple[str, str, list[dict[str, Any]], str, str, dict[str, Any], str]
ACTION, RES = "s3:GetObject", "arn:aws:s3:::bucket/key"
ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


def _stmt(effect: str, condition: dict[str, Any] | None = None, **elements: Any) -> dict[str, Any]:
    out = {"Effect": effect, "Action": ACTION, "Resource": "*", **elements}
    if condition is not None:
        out["Condition"] = condition
    return out


def _both(
    name: str, section: str, condition: dict[str, Any], context: dict[str, Any], match: bool
) -> list[Case]:
    """The same condition under Allow (allowed / implicit deny) and under Deny next to Allow *."""
    return [
        (f"{name} [allow]", section, [_stmt("Allow", condition)], ACTION, RES, context, A if match else ID),
        (
            f"{name} [deny]",
            section,
            [ALLOW_ALL, _stmt("Deny", condition)],
            ACTION,
            RES,
            context,
            ED if match else A,
        ),
    ]


# -- operator tables: (policy value, request value, documented match) --------------------------------------
STRING_ROWS = {
    "StringEquals": [
        ("johndoe", "johndoe", True),
        ("johndoe", "JohnDoe", False),
        ("a*", "abc", False),
        ("a*", "a*", True),
        ("", "", True),
        ("x", "", False),
    ],
    "StringNotEquals": [("johndoe", "johndoe", False), ("johndoe", "JohnDoe", True), ("a", "b", True)],
    "StringEqualsIgnoreCase": [("johndoe", "JohnDoe", True), ("JOHN", "john", True), ("john", "jane", False)],
    "StringNotEqualsIgnoreCase": [("johndoe", "JohnDoe", False), ("john", "jane", True)],
    "StringLike": [
        ("home/*", "home/alice/x", True),
        ("home/*", "Home/alice", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("*", "", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "aXcYb", False),
    ],
    "StringNotLike": [("home/*", "home/alice", False), ("home/*", "work/alice", True), ("a?c", "abbc", True)],
}
NUMERIC_ROWS = {
    "NumericEquals": [("10", "10", True), ("10", "10.0", True), ("10", "11", False), ("-1", "-1", True)],
    "NumericNotEquals": [("10", "10", False), ("10", "9", True)],
    "NumericLessThan": [("10", "9", True), ("10", "10", False), ("10", "11", False), ("0.5", "0.25", True)],
    "NumericLessThanEquals": [("10", "10", True), ("10", "11", False), ("10", "-3", True)],
    "NumericGreaterThan": [("10", "11", True), ("10", "10", False), ("10", "9", False)],
    "NumericGreaterThanEquals": [("10", "10", True), ("10", "9", False), ("10", "100", True)],
}
T0, T1 = "2020-04-01T00:00:00Z", "2020-06-30T00:00:00Z"
DATE_ROWS = {
    "DateEquals": [(T0, T0, True), (T0, T1, False), (T0, "1585699200", True)],
    "DateNotEquals": [(T0, T0, False), (T0, T1, True)],
    "DateLessThan": [(T1, T0, True), (T0, T1, False), (T0, T0, False), ("1593475200", T0, True)],
    "DateLessThanEquals": [(T0, T0, True), (T0, T1, False)],
    "DateGreaterThan": [(T0, T1, True), (T1, T0, False), (T0, T0, False)],
    "DateGreaterThanEquals": [(T0, T0, True), (T1, T0, False), (T0, "2020-04-01T00:00:00+00:00", True)],
}
BOOL_ROWS = {
    "Bool": [
        ("true", "true", True),
        ("true", "false", False),
        ("false", "false", True),
        ("false", "true", False),
        ("TRUE", "true", True),
    ]
}
BINARY_ROWS = {
    "BinaryEquals": [("QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWU=", True), ("QmluYXJ5VmFsdWU=", "T3RoZXI=", False)]
}
IP_ROWS = {
    "IpAddress": [
        ("203.0.113.0/24", "203.0.113.7", True),
        ("203.0.113.0/24", "198.51.100.1", False),
        ("203.0.113.7", "203.0.113.7", True),
        ("2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
        ("2001:DB8:1234:5678::/64", "203.0.113.7", False),
    ],
    "NotIpAddress": [("203.0.113.0/24", "203.0.113.7", False), ("203.0.113.0/24", "198.51.100.1", True)],
}
SRC = "arn:aws:sns:us-east-1:123456789012:topic"
ARN_ROWS = {
    "ArnEquals": [(SRC, SRC, True), (SRC, "arn:aws:sns:us-east-1:123456789012:other", False)],
    "ArnLike": [
        ("arn:aws:sns:*:123456789012:*", SRC, True),
        ("arn:aws:sns:*:999999999999:*", SRC, False),
        ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", True),
        ("arn:aws:sns:us-east-?:123456789012:topic", SRC, True),
    ],
    "ArnNotEquals": [(SRC, SRC, False), (SRC, "arn:aws:sns:us-east-1:123456789012:other", True)],
    "ArnNotLike": [("arn:aws:sns:*:123456789012:*", SRC, False), ("arn:aws:sns:*:999999999999:*", SRC, True)],
}
TABLES = [
    ("string", STRING_ROWS),
    ("numeric", NUMERIC_ROWS),
    ("date", DATE_ROWS),
    ("bool", BOOL_ROWS),
    ("binary", BINARY_ROWS),
    ("ip", IP_ROWS),
    ("arn", ARN_ROWS),
]
NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "NotIpAddress",
    "ArnNotEquals",
    "ArnNotLike",
}
KEY = "aws:RequestTag/team"
# A well-formed value that matches none of the first rows' requests, per operator (for "values are ORed").
FILLER = {
    **dict.fromkeys(STRING_ROWS, "zz-no-match"),
    "NumericEquals": "123456",
    "NumericNotEquals": "123456",
    "NumericLessThan": "-999999",
    "NumericLessThanEquals": "-999999",
    "NumericGreaterThan": "999999",
    "NumericGreaterThanEquals": "999999",
    "DateEquals": "1999-01-01T00:00:00Z",
    "DateNotEquals": "1999-01-01T00:00:00Z",
    "DateLessThan": "1970-01-02T00:00:00Z",
    "DateLessThanEquals": "1970-01-02T00:00:00Z",
    "DateGreaterThan": "2999-01-01T00:00:00Z",
    "DateGreaterThanEquals": "2999-01-01T00:00:00Z",
    "BinaryEquals": "T3RoZXI=",
    "IpAddress": "192.0.2.0/24",
    "NotIpAddress": "192.0.2.0/24",
    **dict.fromkeys(ARN_ROWS, "arn:aws:sns:eu-west-3:000000000000:none"),
}


def _operator_cases() -> list[Case]:
    cases: list[Case] = []
    for section, table in TABLES:
        for op, rows in table.items():
            for i, (policy, request, match) in enumerate(rows):
                cases += _both(f"{op} #{i}", section, {op: {KEY: policy}}, {KEY: request}, match)
            policy = rows[0][0]
            # a missing key: positive operators do not match, negated ones do, IfExists always does
            cases += _both(f"{op} key missing", "missing", {op: {KEY: policy}}, {}, op in NEGATED)
            cases += _both(
                f"{op}IfExists key missing", "ifexists", {op + "IfExists": {KEY: policy}}, {}, True
            )
            request, match = rows[0][1], rows[0][2]
            cases += _both(
                f"{op}IfExists key present",
                "ifexists",
                {op + "IfExists": {KEY: policy}},
                {KEY: request},
                match,
            )
            # values for one key are ORed (Bool has only two values: no filler)
            if op in FILLER:
                cases += _both(
                    f"{op} values ORed",
                    "condition",
                    {op: {KEY: [FILLER[op], policy]}},
                    {KEY: request},
                    match if op not in NEGATED else False,
                )
    return cases


def _structure_cases() -> list[Case]:
    b = "arn:aws:s3:::bucket"
    c: list[Case] = [
        ("no statement: implicit deny", "eval", [], ACTION, RES, {}, ID),
        ("allow applies", "eval", [_stmt("Allow")], ACTION, RES, {}, A),
        ("deny overrides allow", "eval", [_stmt("Allow"), _stmt("Deny")], ACTION, RES, {}, ED),
        ("deny first, same result", "eval", [_stmt("Deny"), _stmt("Allow")], ACTION, RES, {}, ED),
        (
            "deny of another action",
            "eval",
            [_stmt("Allow"), _stmt("Deny", Action="s3:PutObject")],
            ACTION,
            RES,
            {},
            A,
        ),
        ("deny alone", "eval", [_stmt("Deny")], ACTION, RES, {}, ED),
        ("two allows", "eval", [_stmt("Allow"), _stmt("Allow", Action="s3:*")], ACTION, RES, {}, A),
        ("action case-insensitive", "action", [_stmt("Allow", Action="S3:getobject")], ACTION, RES, {}, A),
        ("action service wildcard", "action", [_stmt("Allow", Action="s3:*")], ACTION, RES, {}, A),
        ("action all", "action", [_stmt("Allow", Action="*")], ACTION, RES, {}, A),
        ("action prefix", "action", [_stmt("Allow", Action="s3:Get*")], ACTION, RES, {}, A),
        ("action prefix other", "action", [_stmt("Allow", Action="s3:Put*")], ACTION, RES, {}, ID),
        ("action ?", "action", [_stmt("Allow", Action="s3:GetObjec?")], ACTION, RES, {}, A),
        (
            "action ? needs a character",
            "action",
            [_stmt("Allow", Action="s3:GetObject?")],
            ACTION,
            RES,
            {},
            ID,
        ),
        ("action list", "action", [_stmt("Allow", Action=["ec2:*", ACTION])], ACTION, RES, {}, A),
        ("action other service", "action", [_stmt("Allow", Action="ec2:*")], ACTION, RES, {}, ID),
        (
            "action wildcard inside service",
            "action",
            [_stmt("Allow", Action="s*:GetObject")],
            ACTION,
            RES,
            {},
            A,
        ),
        (
            "notaction excludes",
            "notaction",
            [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}],
            ACTION,
            RES,
            {},
            ID,
        ),
        (
            "notaction allows the rest",
            "notaction",
            [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
            ACTION,
            RES,
            {},
            A,
        ),
        (
            "deny notaction",
            "notaction",
            [ALLOW_ALL, {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}],
            ACTION,
            RES,
            {},
            ED,
        ),
        (
            "deny notaction spares the listed",
            "notaction",
            [ALLOW_ALL, {"Effect": "Deny", "NotAction": "s3:Get*", "Resource": "*"}],
            ACTION,
            RES,
            {},
            A,
        ),
        ("resource exact", "resource", [_stmt("Allow", Resource=RES)], ACTION, RES, {}, A),
        (
            "resource case-sensitive",
            "resource",
            [_stmt("Allow", Resource="arn:aws:s3:::Bucket/key")],
            ACTION,
            RES,
            {},
            ID,
        ),
        (
            "resource star crosses slashes",
            "resource",
            [_stmt("Allow", Resource=b + "/*")],
            ACTION,
            b + "/a/b/c",
            {},
            A,
        ),
        (
            "resource star crosses colons",
            "resource",
            [_stmt("Allow", Resource="arn:aws:s3:*")],
            ACTION,
            RES,
            {},
            A,
        ),
        ("resource ?", "resource", [_stmt("Allow", Resource=b + "/ke?")], ACTION, RES, {}, A),
        ("resource ? one char", "resource", [_stmt("Allow", Resource=b + "/k?")], ACTION, RES, {}, ID),
        ("resource prefix is not a match", "resource", [_stmt("Allow", Resource=b)], ACTION, RES, {}, ID),
        ("resource list", "resource", [_stmt("Allow", Resource=["arn:aws:s3:::x", RES])], ACTION, RES, {}, A),
        ("resource all", "resource", [_stmt("Allow", Resource="*")], ACTION, RES, {}, A),
        (
            "resource middle star",
            "resource",
            [_stmt("Allow", Resource="arn:aws:s3:::b*t/key")],
            ACTION,
            RES,
            {},
            A,
        ),
        (
            "notresource allows outside",
            "notresource",
            [{"Effect": "Allow", "Action": ACTION, "NotResource": "arn:aws:s3:::other/*"}],
            ACTION,
            RES,
            {},
            A,
        ),
        (
            "notresource excludes inside",
            "notresource",
            [{"Effect": "Allow", "Action": ACTION, "NotResource": b + "/*"}],
            ACTION,
            RES,
            {},
            ID,
        ),
        (
            "deny notresource",
            "notresource",
            [ALLOW_ALL, {"Effect": "Deny", "Action": "*", "NotResource": "arn:aws:s3:::other/*"}],
            ACTION,
            RES,
            {},
            ED,
        ),
        (
            "deny notresource spares listed",
            "notresource",
            [ALLOW_ALL, {"Effect": "Deny", "Action": "*", "NotResource": b + "/*"}],
            ACTION,
            RES,
            {},
            A,
        ),
    ]
    k1, k2 = "aws:RequestTag/a", "aws:RequestTag/b"
    c += _both(
        "operators ANDed",
        "condition",
        {"StringEquals": {k1: "x"}, "StringLike": {k2: "y*"}},
        {k1: "x", k2: "yz"},
        True,
    )
    c += _both(
        "operators ANDed, one fails",
        "condition",
        {"StringEquals": {k1: "x"}, "StringLike": {k2: "y*"}},
        {k1: "x", k2: "z"},
        False,
    )
    c += _both("keys ANDed", "condition", {"StringEquals": {k1: "x", k2: "y"}}, {k1: "x", k2: "y"}, True)
    c += _both("keys ANDed, one missing", "condition", {"StringEquals": {k1: "x", k2: "y"}}, {k1: "x"}, False)
    c += _both(
        "key names case-insensitive",
        "keycase",
        {"StringEquals": {"AWS:RequestTag/A": "x"}},
        {"aws:requesttag/a": "x"},
        True,
    )
    c += _both("Null true: key absent", "null", {"Null": {k1: "true"}}, {}, True)
    c += _both("Null true: key present", "null", {"Null": {k1: "true"}}, {k1: "x"}, False)
    c += _both("Null false: key present", "null", {"Null": {k1: "false"}}, {k1: "x"}, True)
    c += _both("Null false: key absent", "null", {"Null": {k1: "false"}}, {}, False)
    c += _both("Null boolean value", "null", {"Null": {k1: True}}, {}, True)
    return c


def _multi_cases() -> list[Case]:
    tags = "aws:TagKeys"
    c: list[Case] = []
    for name, cond, ctx, match in [
        (
            "ForAllValues all listed",
            {"ForAllValues:StringEquals": {tags: ["a", "b"]}},
            {tags: ["a", "b"]},
            True,
        ),
        ("ForAllValues subset", {"ForAllValues:StringEquals": {tags: ["a", "b"]}}, {tags: ["a"]}, True),
        (
            "ForAllValues one not listed",
            {"ForAllValues:StringEquals": {tags: ["a", "b"]}},
            {tags: ["a", "c"]},
            False,
        ),
        ("ForAllValues key missing", {"ForAllValues:StringEquals": {tags: ["a"]}}, {}, True),
        ("ForAllValues empty set", {"ForAllValues:StringEquals": {tags: ["a"]}}, {tags: []}, True),
        (
            "ForAnyValue one listed",
            {"ForAnyValue:StringEquals": {tags: ["a", "b"]}},
            {tags: ["c", "b"]},
            True,
        ),
        ("ForAnyValue none listed", {"ForAnyValue:StringEquals": {tags: ["a", "b"]}}, {tags: ["c"]}, False),
        ("ForAnyValue key missing", {"ForAnyValue:StringEquals": {tags: ["a"]}}, {}, False),
        (
            "ForAnyValue like",
            {"ForAnyValue:StringLike": {tags: ["env*"]}},
            {tags: ["x", "environment"]},
            True,
        ),
        (
            "ForAllValues like",
            {"ForAllValues:StringLike": {tags: ["env*"]}},
            {tags: ["x", "environment"]},
            False,
        ),
        (
            "ForAllValues not-equals",
            {"ForAllValues:StringNotEquals": {tags: ["secret"]}},
            {tags: ["a", "b"]},
            True,
        ),
        (
            "ForAllValues not-equals hit",
            {"ForAllValues:StringNotEquals": {tags: ["secret"]}},
            {tags: ["a", "secret"]},
            False,
        ),
        (
            "ForAnyValue not-equals",
            {"ForAnyValue:StringNotEquals": {tags: ["secret"]}},
            {tags: ["secret", "b"]},
            True,
        ),
        (
            "ForAnyValue not-equals all listed",
            {"ForAnyValue:StringNotEquals": {tags: ["secret"]}},
            {tags: ["secret"]},
            False,
        ),
        (
            "ForAllValues ignore case",
            {"ForAllValues:StringEqualsIgnoreCase": {tags: ["a"]}},
            {tags: ["A"]},
            True,
        ),
        ("ForAnyValue IfExists missing", {"ForAnyValue:StringEqualsIfExists": {tags: ["a"]}}, {}, True),
    ]:
        c += _both(name, "multi", cond, ctx, match)
    return c


def _variable_cases() -> list[Case]:
    user = "aws:username"
    home = "arn:aws:s3:::bucket/home/${aws:username}/*"
    c: list[Case] = [
        (
            "resource variable",
            "vars",
            [_stmt("Allow", Resource=home)],
            ACTION,
            RES.replace("key", "home/alice/f"),
            {user: "alice"},
            A,
        ),
        (
            "resource variable other user",
            "vars",
            [_stmt("Allow", Resource=home)],
            ACTION,
            RES.replace("key", "home/bob/f"),
            {user: "alice"},
            ID,
        ),
        (
            "resource variable no value",
            "novalue",
            [_stmt("Allow", Resource=home)],
            ACTION,
            RES.replace("key", "home//f"),
            {},
            ID,
        ),
        (
            "resource variable default",
            "vardefault",
            [_stmt("Allow", Resource="arn:aws:s3:::bucket/${aws:username, 'guest'}/*")],
            ACTION,
            "arn:aws:s3:::bucket/guest/f",
            {},
            A,
        ),
        (
            "resource ${*} is a literal star",
            "special",
            [_stmt("Allow", Resource="arn:aws:s3:::bucket/${*}")],
            ACTION,
            "arn:aws:s3:::bucket/*",
            {},
            A,
        ),
        (
            "resource ${*} is not a wildcard",
            "special",
            [_stmt("Allow", Resource="arn:aws:s3:::bucket/${*}")],
            ACTION,
            RES,
            {},
            ID,
        ),
        (
            "resource ${?} literal",
            "special",
            [_stmt("Allow", Resource="arn:aws:s3:::bucket/${?}")],
            ACTION,
            "arn:aws:s3:::bucket/?",
            {},
            A,
        ),
        (
            "resource ${$} literal",
            "special",
            [_stmt("Allow", Resource="arn:aws:s3:::bucket/${$}")],
            ACTION,
            "arn:aws:s3:::bucket/$",
            {},
            A,
        ),
        (
            "multivalued key is not substituted",
            "novalue",
            [_stmt("Allow", Resource="arn:aws:s3:::bucket/${aws:TagKeys}")],
            ACTION,
            "arn:aws:s3:::bucket/a",
            {"aws:TagKeys": ["a", "b"]},
            ID,
        ),
    ]
    for op in ("StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnLike"):
        value = "arn:aws:iam::123456789012:user/${aws:username}" if op == "ArnLike" else "${aws:username}"
        key = "aws:PrincipalArn" if op == "ArnLike" else "s3:prefix"
        same = "arn:aws:iam::123456789012:user/alice" if op == "ArnLike" else "alice"
        c += _both(f"{op} variable", "vars", {op: {key: value}}, {key: same, user: "alice"}, True)
        c += _both(
            f"{op} variable other",
            "vars",
            {op: {key: value}},
            {key: same.replace("alice", "bob"), user: "alice"},
            False,
        )
    c += _both(
        "Bool variable",
        "vars",
        {"Bool": {"aws:SecureTransport": "${aws:ViaAWSService}"}},
        {"aws:SecureTransport": "true", "aws:ViaAWSService": "true"},
        True,
    )
    return c


def _version_cases() -> list[Case]:
    """Version 2008-10-17 (or none) treats ${...} as literal text (tested with Version set apart)."""
    return []


def _refusals() -> list[Case]:
    bad: list[tuple[str, str, dict[str, Any]]] = [
        ("no Resource", "grammar", {"Effect": "Allow", "Action": ACTION}),
        (
            "Resource and NotResource",
            "grammar",
            {"Effect": "Allow", "Action": ACTION, "Resource": "*", "NotResource": "*"},
        ),
        (
            "Action and NotAction",
            "grammar",
            {"Effect": "Allow", "Action": ACTION, "NotAction": ACTION, "Resource": "*"},
        ),
        ("unknown element", "grammar", {"Effect": "Allow", "Action": ACTION, "Resources": "*"}),
        ("effect case", "grammar", {"Effect": "allow", "Action": ACTION, "Resource": "*"}),
        (
            "principal in identity policy",
            "principal",
            {"Effect": "Allow", "Action": ACTION, "Resource": "*", "Principal": "*"},
        ),
        (
            "condition not a map",
            "grammar",
            {"Effect": "Allow", "Action": ACTION, "Resource": "*", "Condition": []},
        ),
        (
            "unknown operator",
            "grammar",
            {"Effect": "Allow", "Action": ACTION, "Resource": "*", "Condition": {"StringRegex": {"k": "v"}}},
        ),
        (
            "Null with IfExists",
            "null",
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": "*",
                "Condition": {"NullIfExists": {"k": "true"}},
            },
        ),
        (
            "ForAllValues:Null",
            "multi",
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": "*",
                "Condition": {"ForAllValues:Null": {"k": "true"}},
            },
        ),
        (
            "numeric value not a number",
            "numeric",
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": "*",
                "Condition": {"NumericLessThan": {"k": "ten"}},
            },
        ),
        (
            "date value not a date",
            "date",
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": "*",
                "Condition": {"DateLessThan": {"k": "soon"}},
            },
        ),
        (
            "ip value not an address",
            "ip",
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": "*",
                "Condition": {"IpAddress": {"k": "300.1.1.1"}},
            },
        ),
        (
            "bool value",
            "bool",
            {"Effect": "Allow", "Action": ACTION, "Resource": "*", "Condition": {"Bool": {"k": "yes"}}},
        ),
        (
            "binary value",
            "binary",
            {
                "Effect": "Allow",
                "Action": ACTION,
                "Resource": "*",
                "Condition": {"BinaryEquals": {"k": "%%%"}},
            },
        ),
        ("empty action list", "grammar", {"Effect": "Allow", "Action": [], "Resource": "*"}),
        ("action without service", "action", {"Effect": "Allow", "Action": "GetObject", "Resource": "*"}),
        ("resource not an ARN", "resource", {"Effect": "Allow", "Action": ACTION, "Resource": "bucket/key"}),
    ]
    return [(f"refuse: {n}", s, [stmt], ACTION, RES, {}, REFUSE) for n, s, stmt in bad]


CASES: list[Case] = _operator_cases() + _structure_cases() + _multi_cases() + _variable_cases() + _refusals()
