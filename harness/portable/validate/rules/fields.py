"""Field rules: enum values, timestamps and fields the contract redacts."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from harness.clock import parse_rfc3339
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule

# One field's test: (field, accepts a non-null value, describes the fault without the value).
FieldTest = tuple[str, Callable[[Any], bool], Callable[[], str]]


def _bind_field_tests(ctx: EntityContext, rule_id: str, tests: tuple[FieldTest, ...]) -> RecordRule | None:
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
    return _bind_field_tests(ctx, "enum.unknown", tuple(tests))


def _one_of(allowed: frozenset[tuple[type, Any]], value: Any) -> bool:
    """``value`` is one of the enum's strings or integers (a list or object never is)."""
    return type(value) in (str, int) and (type(value), value) in allowed


def _not_one_of(allowed: tuple[Any, ...]) -> str:
    return f"value is not one of {sorted(allowed, key=repr)}"


@produces("timestamp.unparseable")
def bind_timestamps(ctx: EntityContext) -> RecordRule | None:
    tests = tuple((fld, _is_timestamp, _not_a_timestamp) for fld in ctx.entity.timestamps)
    return _bind_field_tests(ctx, "timestamp.unparseable", tests)


def _is_timestamp(value: Any) -> bool:
    """Strict RFC 3339 with a zone (``harness.clock.parse_rfc3339``): no ISO week dates, basic
    format or hour-only times, which lenient parsers accept and restores read differently."""
    return parse_rfc3339(value) is not None


def _not_a_timestamp() -> str:
    return "not an RFC 3339 timestamp with a zone"


@produces("redaction.field_present")
def bind_redacted_fields(ctx: EntityContext) -> RecordRule | None:
    redact = tuple(dict.fromkeys(ctx.entity.redact))  # contract order: the same in every process
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
