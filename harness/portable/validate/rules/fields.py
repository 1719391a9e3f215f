"""Field rules: enum values, timestamps and fields the contract redacts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any

from harness.clock import parse_rfc3339
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule

# One field's test: (field, accepts a non-null value, describes the fault without the value).
FieldTest = tuple[str, Callable[[Any], bool], Callable[[], str]]


def bind_field_tests(ctx: EntityContext, rule_id: str, tests: tuple[FieldTest, ...]) -> RecordRule | None:
    """A record rule that reports ``rule_id`` for each field whose non-null value a test rejects."""
    if not tests:
        return None
    finding, file = ctx.finding, ctx.entity.file

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        bad = False
        for fld, accept, describe in tests:
            value = record.get(fld)
            if value is not None and not accept(value):
                finding(rule_id, file, describe(), line=line, record_id=rid, field=fld)
                bad = True
        return bad

    return check


@produces("enum.unknown")
def bind_enums(ctx: EntityContext) -> RecordRule | None:
    tests: list[FieldTest] = []
    for fld, values in ctx.entity.enums.items():
        allowed = frozenset((type(v), v) for v in values)  # typed: true is not 1, 1.0 is not 1
        tests.append((fld, partial(_one_of, allowed), partial(_not_one_of, values)))
    return bind_field_tests(ctx, "enum.unknown", tuple(tests))


def _one_of(allowed: frozenset[tuple[type, Any]], value: Any) -> bool:
    """``value`` is one of the enum's strings or integers (a list or object never is)."""
    return type(value) in (str, int) and (type(value), value) in allowed


def _not_one_of(allowed: tuple[Any, ...]) -> str:
    return f"value is not one of {sorted(allowed, key=repr)}"


@produces("timestamp.unparseable")
def bind_timestamps(ctx: EntityContext) -> RecordRule | None:
    forms = ctx.entity.timestamp_forms
    tests = tuple(
        (fld, FORM_TESTS[forms.get(fld, "rfc3339")], partial(_not_a_timestamp, forms.get(fld, "rfc3339")))
        for fld in ctx.entity.timestamps
    )
    return bind_field_tests(ctx, "timestamp.unparseable", tests)


def _is_timestamp(value: Any) -> bool:
    """Strict RFC 3339 with a zone (``harness.clock.parse_rfc3339``): no ISO week dates, basic
    format or hour-only times, which lenient parsers accept and restores read differently."""
    return parse_rfc3339(value) is not None


def _is_date(value: Any) -> bool:
    """``YYYY-MM-DD``, a real calendar date."""
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return value[:4].isdigit() and value[5:7].isdigit() and value[8:].isdigit()


#: Epoch seconds PostgreSQL's to_timestamp takes: 0001-01-01 to 9999-12-31.
_EPOCH_RANGE = (-62135596800, 253402300799)


def _is_epoch(scale: int, value: Any) -> bool:
    """A whole number of seconds (``scale`` 1) or milliseconds (1000) since 1970, within years 1-9999."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    low, high = _EPOCH_RANGE
    return low * scale <= value <= high * scale + (scale - 1)


FORM_TESTS: dict[str, Callable[[Any], bool]] = {
    "rfc3339": _is_timestamp,
    "date": _is_date,
    "epoch_s": partial(_is_epoch, 1),
    "epoch_ms": partial(_is_epoch, 1000),
}
_FORM_NAMES = {
    "rfc3339": "an RFC 3339 timestamp with a zone",
    "date": "a YYYY-MM-DD date",
    "epoch_s": "whole epoch seconds",
    "epoch_ms": "whole epoch milliseconds",
}


def _not_a_timestamp(form: str = "rfc3339") -> str:
    return f"not {_FORM_NAMES[form]}"


@produces("redaction.field_present")
def bind_redacted_fields(ctx: EntityContext) -> RecordRule | None:
    """Fields the contract redacts, and those the manifest says it redacted, are absent."""
    redact = tuple(dict.fromkeys((*ctx.entity.redact, *sorted(ctx.declared_redactions))))
    if not redact:
        return None
    redact_set = frozenset(redact)
    finding, file = ctx.finding, ctx.entity.file

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        if redact_set.isdisjoint(record):
            return False
        for fld in redact:
            if fld in record:
                finding(
                    "redaction.field_present",
                    file,
                    "field must be redacted by the contract",
                    line=line,
                    record_id=rid,
                    field=fld,
                )
        return True

    return check
