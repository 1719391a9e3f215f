"""Type rules: a value must fit the PostgreSQL column it is restored into, not only the JSON Schema.

JSON Schema calls ``2.0`` an integer and has no integer range; ``jsonb_populate_record`` refuses
``2.0`` for a ``bigint`` (it takes ``1e3``) and anything outside the column's range. So a field
whose schema says ``integer`` (a ``bigint`` unless the contract's ``column_types`` says
``smallint``/``integer``) holds a number literal with no fractional digits, in range; a declared
``uuid``, ``boolean``, ``numeric``/``real``/``double precision`` or ``date`` column holds what
PostgreSQL reads as one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule
from harness.portable.validate.rules.fields import FieldTest, bind_field_tests

_HEX = frozenset("0123456789abcdefABCDEF")


def _uuid(value: Any) -> bool:
    """PostgreSQL's uuid input: 32 hex digits, optionally in braces, hyphens between 4-digit groups."""
    if (
        value.__class__ is str
        and len(value) == 36
        and value[8] == "-"
        and value[13] == "-"
        and value[18] == "-"
        and value[23] == "-"
    ):  # the canonical form: four hyphens just there (and no other) and 32 hex digits
        digits = value.replace("-", "")
        if len(digits) != 32:
            return False
        try:  # two hex digits per byte; whitespace, which fromhex skips, would leave fewer than 16
            return len(bytes.fromhex(digits)) == 16
        except ValueError:
            return False
    return _uuid_any_form(value)


def _uuid_any_form(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value[1:-1] if value[:1] == "{" and value[-1:] == "}" else value
    if text[:1] == "-" or text[-1:] == "-" or "--" in text:
        return False
    digits = text.replace("-", "")
    groups = text.split("-")
    return len(digits) == 32 and set(digits) <= _HEX and all(len(g) % 4 == 0 for g in groups)


def _date(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return value[4] == "-" and value[7] == "-"


def _literals(text: str) -> dict[str, Any]:
    """The record's top-level numbers as decimal literals, exactly as written."""
    try:
        record = json.loads(text, parse_float=Decimal)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _integral_literal(value: Any, low: int, high: int) -> bool:
    """A number literal PostgreSQL reads into an integer column: no fractional digits left once the
    exponent is applied (``1e3``, ``1.5e1``; not ``2.0``, ``1.50e1``), and within the range."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return False
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and exponent >= 0 and low <= int(value) <= high


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: Column type -> what a non-null JSON value must be to load into it.
COLUMN_TESTS: dict[str, Callable[[Any], bool]] = {
    "uuid": _uuid,
    "boolean": lambda v: isinstance(v, bool),
    "numeric": _number,
    "real": _number,
    "double precision": _number,
    "date": _date,
}


@produces("type.integer")
def bind_integer_columns(ctx: EntityContext) -> RecordRule | None:
    """Numbers in integer columns: integer literals (``type(value) is int``) within the column range."""
    ranges = tuple(ctx.entity.integer_fields.items())
    if not ranges:
        return None
    finding, file = ctx.finding, ctx.entity.file
    columns = ctx.entity.column_types

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        bad = False
        literals: dict[str, Any] | None = None
        for fld, (low, high) in ranges:
            value = record.get(fld)
            kind = type(value)
            if kind is float:  # 2.0 and 1e3 both decode to a float; PostgreSQL takes 1e3 but not 2.0
                literals = literals if literals is not None else _literals(text)
                if _integral_literal(literals.get(fld), low, high):
                    continue
            elif kind is not int or low <= value <= high:  # type: ignore[operator]
                continue
            column = columns.get(fld, "bigint")
            what = "has fractional digits or is out of range" if kind is float else "is out of range"
            finding(
                "type.integer",
                file,
                f"number {what} for a {column} column ({low}..{high})",
                line=line,
                record_id=rid,
                field=fld,
            )
            bad = True
        return bad

    return check


@produces("type.column")
def bind_declared_columns(ctx: EntityContext) -> RecordRule | None:
    tests: tuple[FieldTest, ...] = tuple(
        (fld, COLUMN_TESTS[column], partial("value is not a valid {}".format, column))
        for fld, column in ctx.entity.column_types.items()
        if column in COLUMN_TESTS
    )
    return bind_field_tests(ctx, "type.column", tests)
