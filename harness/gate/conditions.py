"""IAM ``Condition`` evaluation: every operator the gate accepts, with ``IfExists`` and set qualifiers.

Semantics follow the IAM policy evaluation reference:
* operators in a block are ANDed, keys under an operator are ANDed, values for a key are ORed;
* a missing key makes a positive operator false, a negated operator (``...Not...``) true,
  and any operator with ``IfExists`` true;
* ``ForAnyValue`` is true if some request value matches (false when the key is missing),
  ``ForAllValues`` is true if every request value matches (true when the key is missing);
* ``Null`` tests presence: ``true`` means the key must be absent;
* an operator the engine does not know raises :class:`UnsupportedCondition`: it is never ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness.gate import patterns

Context = dict[str, list[str]]


class UnsupportedCondition(ValueError):
    """The policy uses an operator or value the engine cannot evaluate."""


def _str_eq(value: str, cond: str, ctx: Context) -> bool:
    pat = patterns.substitute(cond, ctx)
    return pat is not None and patterns.to_text(pat) == value if "${" in cond else value == cond


def _str_eq_ic(value: str, cond: str, ctx: Context) -> bool:
    return value.lower() == cond.lower()


def _str_like(value: str, cond: str, ctx: Context) -> bool:
    pat = patterns.substitute(cond, ctx)
    return pat is not None and patterns.matches(pat, value)


def _arn_like(value: str, cond: str, ctx: Context) -> bool:
    """ARN comparison segment by segment: six colon-separated parts, the last may contain colons."""
    pat = patterns.substitute(cond, ctx)
    if pat is None:
        return False
    want = patterns.to_text(pat).split(":", 5)
    have = value.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return False
    return all(patterns.matches(patterns.parse(w), h) for w, h in zip(want, have, strict=True))


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UnsupportedCondition(f"not a number: {text!r}") from None


def _date(text: str) -> datetime:
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UnsupportedCondition(f"not a date: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ip(value: str, cond: str, ctx: Context) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cond, strict=False)
    except ValueError:
        return False


def _compare(parse: Callable[[str], Any], op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def check(value: str, cond: str, ctx: Context) -> bool:
        try:
            left = parse(value)
        except UnsupportedCondition:
            return False  # a request value of the wrong type never matches
        return bool(op(left, parse(cond)))

    return check


def _bool(value: str, cond: str, ctx: Context) -> bool:
    return value.lower() == cond.lower()


_EQ, _LT, _LE = (lambda a, b: a == b), (lambda a, b: a < b), (lambda a, b: a <= b)
_GT, _GE = (lambda a, b: a > b), (lambda a, b: a >= b)

# operator -> (predicate on one request value and one condition value, negated?)
OPERATORS: dict[str, tuple[Callable[[str, str, Context], bool], bool]] = {
    "StringEquals": (_str_eq, False),
    "StringNotEquals": (_str_eq, True),
    "StringEqualsIgnoreCase": (_str_eq_ic, False),
    "StringNotEqualsIgnoreCase": (_str_eq_ic, True),
    "StringLike": (_str_like, False),
    "StringNotLike": (_str_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
    "NumericEquals": (_compare(_number, _EQ), False),
    "NumericNotEquals": (_compare(_number, _EQ), True),
    "NumericLessThan": (_compare(_number, _LT), False),
    "NumericLessThanEquals": (_compare(_number, _LE), False),
    "NumericGreaterThan": (_compare(_number, _GT), False),
    "NumericGreaterThanEquals": (_compare(_number, _GE), False),
    "DateEquals": (_compare(_date, _EQ), False),
    "DateNotEquals": (_compare(_date, _EQ), True),
    "DateLessThan": (_compare(_date, _LT), False),
    "DateLessThanEquals": (_compare(_date, _LE), False),
    "DateGreaterThan": (_compare(_date, _GT), False),
    "DateGreaterThanEquals": (_compare(_date, _GE), False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
}


def _as_strings(raw: Any, where: str) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    out: list[str] = []
    for v in values:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str | int | float):
            out.append(str(v))
        else:
            raise UnsupportedCondition(f"{where}: condition value {v!r} is not a string, number or boolean")
    return out


def _split(operator: str) -> tuple[str | None, str, bool]:
    qualifier = None
    for q in ("ForAnyValue:", "ForAllValues:"):
        if operator.startswith(q):
            qualifier, operator = q[:-1], operator[len(q) :]
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    return qualifier, base, if_exists


def evaluate_key(operator: str, key: str, raw: Any, context: Context) -> bool:
    qualifier, base, if_exists = _split(operator)
    cond_values = _as_strings(raw, f"{operator}/{key}")
    present = context.get(key.lower())
    if base == "Null":
        if qualifier or if_exists:
            raise UnsupportedCondition(f"{operator}: Null takes no qualifier or IfExists")
        wants_absent = [v.lower() == "true" for v in cond_values]
        return any(flag == (not present) for flag in wants_absent)
    if base not in OPERATORS:
        raise UnsupportedCondition(f"unknown condition operator {operator!r}")
    predicate, negated = OPERATORS[base]

    def one(value: str) -> bool:
        hit = any(predicate(value, c, context) for c in cond_values)
        return not hit if negated else hit

    if qualifier == "ForAnyValue":
        return bool(present) and any(one(v) for v in present or [])
    if qualifier == "ForAllValues":
        return all(one(v) for v in present or [])
    if not present:
        return if_exists or negated
    if negated:
        return all(one(v) for v in present)
    return any(one(v) for v in present)


def check_block(block: Any) -> None:
    """Refuse, at load time, a Condition block with an operator the engine does not evaluate."""
    if not isinstance(block, dict):
        raise UnsupportedCondition(f"Condition must be a mapping, got {type(block).__name__}")
    for operator, keys in block.items():
        _, base, _ = _split(str(operator))
        if base != "Null" and base not in OPERATORS:
            raise UnsupportedCondition(f"unknown condition operator {operator!r}")
        if not isinstance(keys, dict):
            raise UnsupportedCondition(f"{operator}: expected a mapping of condition keys")
        for key, raw in keys.items():
            _as_strings(raw, f"{operator}/{key}")


def evaluate(block: Any, context: Context) -> bool:
    """Evaluate a whole ``Condition`` block against the request context (keys lower-cased)."""
    if not block:
        return True
    if not isinstance(block, dict):
        raise UnsupportedCondition(f"Condition must be a mapping, got {type(block).__name__}")
    for operator, keys in block.items():
        if not isinstance(keys, dict):
            raise UnsupportedCondition(f"{operator}: expected a mapping of condition keys")
        for key, raw in keys.items():
            if not evaluate_key(str(operator), str(key), raw, context):
                return False
    return True
