"""Field rules: enum values, timestamps and fields the contract redacts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule


@produces("enum.unknown")
def bind_enums(ctx: EntityContext) -> RecordRule | None:
    enums = tuple((k, set(v)) for k, v in ctx.entity.enums.items())
    if not enums:
        return None
    finding, file = ctx.finding, ctx.entity.file

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        bad = False
        for fld, allowed in enums:
            value = record.get(fld)
            if value is not None and value not in allowed:
                finding(
                    "enum.unknown",
                    file,
                    f"value is not one of {sorted(allowed)}",
                    line=line,
                    record_id=rid,
                    field=fld,
                )
                bad = True
        return bad

    return check


def _parse_timestamp(value: str) -> bool:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None and "T" in value


@produces("timestamp.unparseable")
def bind_timestamps(ctx: EntityContext) -> RecordRule | None:
    fields = ctx.entity.timestamps
    if not fields:
        return None
    finding, file = ctx.finding, ctx.entity.file

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        bad = False
        for fld in fields:
            value = record.get(fld)
            if value is not None and not (isinstance(value, str) and _parse_timestamp(value)):
                finding(
                    "timestamp.unparseable",
                    file,
                    "not an RFC 3339 timestamp with a zone",
                    line=line,
                    record_id=rid,
                    field=fld,
                )
                bad = True
        return bad

    return check


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
