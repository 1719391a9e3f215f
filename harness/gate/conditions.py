"""IAM ``Condition`` evaluation: every operator the gate accepts, with ``IfExists`` and set qualifiers.

Semantics follow the IAM User Guide (condition element and condition operators pages):
* operators in a block are ANDed, keys under an operator are ANDed, values for a key are ORed;
* a missing key makes a positive operator false, a negated operator (``...Not...``) true,
  and any operator with ``IfExists`` true;
* ``ForAnyValue`` is true if some request value matches (false when the key is missing),
  ``ForAllValues`` is true if every request value matches (true when the key is missing);
* ``Null`` tests presence: ``true`` means the key must be absent;
* a request value the operator cannot compare (not a number, not an ARN, not an address)
  matches nothing, for negated operators too: only a *missing* key satisfies a negation;
* policy variables (``${aws:username}``) are substituted in every string-valued operator
  when the policy's ``Version`` is 2012-10-17;
* anything malformed in the policy (unknown operator, a value the operator cannot read,
  ``Null`` with a qualifier or ``IfExists``) raises :class:`UnsupportedCondition`: it is
  refused when the statement is parsed, never ignored.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from harness.gate import patterns

Context = dict[str, list[str]]
# One request value against one policy value: True / False, or None when the request
# value cannot be compared at all (malformed for this operator).
Predicate = Callable[[str, str, Context, bool], bool | None]


class UnsupportedCondition(ValueError):
    """The policy uses an operator or value the engine cannot evaluate."""


def _subst(cond: str, ctx: Context, variables: bool) -> str | None:
    """The policy value with its variables substituted (None: a variable has no value)."""
    if not variables or "${" not in cond:
        return cond
    pat = patterns.substitute(cond, ctx)
    return None if pat is None else patterns.to_text(pat)


def _str_eq(value: str, cond: str, ctx: Context, variables: bool) -> bool | None:
    want = _subst(cond, ctx, variables)
    return want is not None and value == want


def _str_eq_ic(value: str, cond: str, ctx: Context, variables: bool) -> bool | None:
    want = _subst(cond, ctx, variables)
    return want is not None and patterns.fold(value) == patterns.fold(want)


def _like_pattern(cond: str, ctx: Context, variables: bool) -> patterns.Pattern | None:
    return patterns.substitute(cond, ctx) if variables else patterns.parse(cond)


def _str_like(value: str, cond: str, ctx: Context, variables: bool) -> bool | None:
    pat = _like_pattern(cond, ctx, variables)
    return pat is not None and patterns.matches(pat, value)


def _arn_parts(text: str) -> list[str] | None:
    parts = text.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def _arn_like(value: str, cond: str, ctx: Context, variables: bool) -> bool | None:
    """ARN comparison segment by segment: six colon-separated parts, the last may contain colons."""
    have = _arn_parts(value)
    if have is None:
        return None  # a request value that is not an ARN compares to nothing
    pat = _like_pattern(cond, ctx, variables)
    if pat is None:
        return False
    want = _split_pattern(pat)
    if want is None:
        return False
    return all(patterns.matches(w, h) for w, h in zip(want, have, strict=True))


def _split_pattern(pat: patterns.Pattern) -> list[patterns.Pattern] | None:
    """Split a pattern at its first five literal colons (a substituted colon counts too)."""
    parts: list[list[patterns.Token]] = [[]]
    for t in pat:
        if t == ":" and len(parts) < 6:
            parts.append([])
        else:
            parts[-1].append(t)
    return [tuple(p) for p in parts] if len(parts) == 6 else None


def number(text: str) -> Decimal | None:
    """A plain decimal (``-12``, ``3.5``); no spaces, underscores, exponents, NaN or Infinity."""
    body = text[1:] if text[:1] in "+-" else text
    whole, dot, frac = body.partition(".")
    if not whole.isascii() or not whole.isdigit() or (dot and not (frac.isascii() and frac.isdigit())):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the shape check above admits only decimals
        return None


_EPOCH_RANGE = (-62135596800, 253402300799)  # 0001-01-01 .. 9999-12-31T23:59:59Z


def date(text: str) -> datetime | None:
    """An ISO 8601 date/time (``Z`` or an offset; naive means UTC) or epoch seconds, else None."""
    seconds = number(text)
    if seconds is not None:
        if not _EPOCH_RANGE[0] <= seconds <= _EPOCH_RANGE[1]:
            return None
        return datetime.fromtimestamp(float(seconds), UTC)
    if not text.isascii() or not text[:4].isdigit():
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip(value: str, cond: str, ctx: Context, variables: bool) -> bool | None:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    network = _network(cond)
    return network is not None and network.version == address.version and address in network


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _binary_eq(value: str, cond: str, ctx: Context, variables: bool) -> bool | None:
    have = _binary(value)
    return None if have is None else have == _binary(cond)


def _boolean(text: str) -> bool | None:
    low = text.lower()
    return True if low == "true" else False if low == "false" else None


def _bool(value: str, cond: str, ctx: Context, variables: bool) -> bool | None:
    have = _boolean(value)
    if have is None:
        return None
    want = _subst(cond, ctx, variables)
    return want is not None and _boolean(want) is have


def _ordered(value: str, cond: str, ctx: Context, variables: bool, *, parse: Any, op: Any) -> bool | None:
    """``Numeric*``/``Date*``: both sides parsed; a request value that does not parse compares to nothing."""
    left = parse(value)
    if left is None:
        return None
    right = parse(cond)
    return right is not None and bool(op(left, right))


def _ordering(parse: Callable[[str], Any], op: Callable[[Any, Any], bool]) -> Predicate:
    return partial(_ordered, parse=parse, op=op)


def _eq(a: Any, b: Any) -> bool:
    return bool(a == b)


def _lt(a: Any, b: Any) -> bool:
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return bool(a <= b)


def _gt(a: Any, b: Any) -> bool:
    return bool(a > b)


def _ge(a: Any, b: Any) -> bool:
    return bool(a >= b)


# Policy-side value checks: which operator families need which value shape.
def _valid_number(text: str) -> bool:
    return number(text) is not None


def _valid_date(text: str) -> bool:
    return date(text) is not None


def _valid_ip(text: str) -> bool:
    return _network(text) is not None


def _valid_bool(text: str) -> bool:
    return _boolean(text) is not None or "${" in text


def _valid_binary(text: str) -> bool:
    return _binary(text) is not None


def _any(text: str) -> bool:
    return True


# operator -> (predicate, negated?, policy-value check)
OPERATORS: dict[str, tuple[Predicate, bool, Callable[[str], bool]]] = {
    "StringEquals": (_str_eq, False, _any),
    "StringNotEquals": (_str_eq, True, _any),
    "StringEqualsIgnoreCase": (_str_eq_ic, False, _any),
    "StringNotEqualsIgnoreCase": (_str_eq_ic, True, _any),
    "StringLike": (_str_like, False, _any),
    "StringNotLike": (_str_like, True, _any),
    "ArnEquals": (_arn_like, False, _any),
    "ArnLike": (_arn_like, False, _any),
    "ArnNotEquals": (_arn_like, True, _any),
    "ArnNotLike": (_arn_like, True, _any),
    "Bool": (_bool, False, _valid_bool),
    "BinaryEquals": (_binary_eq, False, _valid_binary),
    "NumericEquals": (_ordering(number, _eq), False, _valid_number),
    "NumericNotEquals": (_ordering(number, _eq), True, _valid_number),
    "NumericLessThan": (_ordering(number, _lt), False, _valid_number),
    "NumericLessThanEquals": (_ordering(number, _le), False, _valid_number),
    "NumericGreaterThan": (_ordering(number, _gt), False, _valid_number),
    "NumericGreaterThanEquals": (_ordering(number, _ge), False, _valid_number),
    "DateEquals": (_ordering(date, _eq), False, _valid_date),
    "DateNotEquals": (_ordering(date, _eq), True, _valid_date),
    "DateLessThan": (_ordering(date, _lt), False, _valid_date),
    "DateLessThanEquals": (_ordering(date, _le), False, _valid_date),
    "DateGreaterThan": (_ordering(date, _gt), False, _valid_date),
    "DateGreaterThanEquals": (_ordering(date, _ge), False, _valid_date),
    "IpAddress": (_ip, False, _valid_ip),
    "NotIpAddress": (_ip, True, _valid_ip),
}
QUALIFIERS = ("ForAnyValue:", "ForAllValues:")
UNRESOLVED = "{{unresolved:"  # a template placeholder: compares to nothing, is not malformed


def as_strings(raw: Any, where: str) -> list[str]:
    """Condition values as strings (JSON booleans become ``true``/``false``); non-scalars refused."""
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise UnsupportedCondition(f"{where}: no condition values")
    out: list[str] = []
    for v in values:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str | int | float):
            out.append(str(v))
        else:
            kind = "null" if v is None else type(v).__name__
            raise UnsupportedCondition(f"{where}: a condition value is a {kind}, not a string/number/boolean")
    return out


def split_operator(operator: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> (``ForAnyValue``, ``StringLike``, True)."""
    qualifier = None
    for q in QUALIFIERS:
        if operator.startswith(q):
            qualifier, operator = q[:-1], operator[len(q) :]
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    return qualifier, base, if_exists


def check_operator(operator: str, key: str, raw: Any) -> list[str]:
    """Refuse an operator the engine does not evaluate or a value it cannot read; the values."""
    qualifier, base, if_exists = split_operator(operator)
    where = f"{operator}/{key}"
    values = as_strings(raw, where)
    if base == "Null":
        if qualifier or if_exists:
            raise UnsupportedCondition(f"{operator}: Null takes no set qualifier or IfExists")
        if any(v.lower() not in ("true", "false") for v in values):
            raise UnsupportedCondition(f"{where}: Null takes true or false")
        return values
    if base not in OPERATORS:
        raise UnsupportedCondition(f"unknown condition operator {operator!r}")
    valid = OPERATORS[base][2]
    bad = [v for v in values if not valid(v) and UNRESOLVED not in v]
    if bad:
        raise UnsupportedCondition(f"{where}: a value is not valid for {base} (str, {len(bad[0])} chars)")
    return values


def evaluate_key(operator: str, key: str, raw: Any, context: Context, variables: bool = True) -> bool:
    qualifier, base, if_exists = split_operator(operator)
    cond_values = check_operator(operator, key, raw)
    present = context.get(key.lower())
    if base == "Null":
        return any((v.lower() == "true") == (not present) for v in cond_values)
    predicate, negated, _ = OPERATORS[base]

    def one(value: str) -> bool:
        results = [predicate(value, c, context, variables) for c in cond_values]
        if None in results:
            return False  # the request value cannot be compared: no match, negated or not
        hit = any(results)
        return not hit if negated else hit

    if not present:
        if if_exists:
            return True
        if qualifier == "ForAnyValue":
            return False
        if qualifier == "ForAllValues":
            return True
        return negated
    if qualifier == "ForAllValues" or (qualifier is None and negated):
        return all(one(v) for v in present)
    return any(one(v) for v in present)


def check_block(block: Any) -> None:
    """Refuse, at load time, a Condition block the engine cannot evaluate exactly."""
    if not isinstance(block, dict):
        raise UnsupportedCondition(f"Condition must be a mapping, got {type(block).__name__}")
    for operator, keys in block.items():
        if not isinstance(keys, dict) or not keys:
            raise UnsupportedCondition(f"{operator}: expected a non-empty mapping of condition keys")
        for key, raw in keys.items():
            check_operator(str(operator), str(key), raw)


def evaluate(block: Any, context: Context, variables: bool = True) -> bool:
    """Evaluate a whole ``Condition`` block against the request context (keys lower-cased)."""
    if not isinstance(block, dict):
        raise UnsupportedCondition(f"Condition must be a mapping, got {type(block).__name__}")
    for operator, keys in block.items():
        if not isinstance(keys, dict) or not keys:
            raise UnsupportedCondition(f"{operator}: expected a non-empty mapping of condition keys")
        for key, raw in keys.items():
            if not evaluate_key(str(operator), str(key), raw, context, variables):
                return False
    return True
