"""Record rules: each line is UTF-8, a JSON object with a usable primary key that no earlier
record repeats, and meets the entity's JSON Schema.

The validator's loop decodes and parses each line itself (the hot path) and calls the
``report_*`` function of a line that fails; duplicate ids are found in the index afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import orjson

from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, ExportContext, RecordRule
from harness.shapes import describe_schema_error, path_text


def salvage_id(ctx: EntityContext, raw: bytes, line: int) -> str | None:
    """The id of an unreadable line, if it can still be read, so the finding names the record
    and the records that point at it are not reported as dangling as well."""
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t")
    try:
        record = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:  # Python's reader takes what orjson refuses (NaN, lone surrogates): enough for an id
            record = json.loads(text)
        except (ValueError, RecursionError):
            return None
    rid = ctx.entity.record_id(record) if isinstance(record, dict) else None
    if rid is not None:
        ctx.index.add_id(ctx.entity.name, rid, line)
    return rid


@produces("record.utf8")
def report_invalid_utf8(ctx: EntityContext, raw: bytes, line: int, exc: UnicodeDecodeError) -> None:
    rid = salvage_id(ctx, raw, line)
    ctx.finding(
        "record.utf8", ctx.entity.file, f"invalid UTF-8 at byte {exc.start}", line=line, record_id=rid
    )


@produces("record.json")
def report_malformed_json(ctx: EntityContext, raw: bytes, line: int, exc: orjson.JSONDecodeError) -> None:
    rid = salvage_id(ctx, raw, line)
    ctx.finding("record.json", ctx.entity.file, f"malformed JSON: {exc.msg}", line=line, record_id=rid)


@produces("record.json")
def report_not_an_object(ctx: EntityContext, line: int) -> None:
    ctx.finding("record.json", ctx.entity.file, "line is not a JSON object", line=line)


@produces("record.primary_key")
def report_missing_primary_key(ctx: EntityContext, line: int) -> None:
    ctx.finding(
        "record.primary_key",
        ctx.entity.file,
        f"primary key {', '.join(map(repr, ctx.entity.key_fields))} missing or not an integer/string",
        line=line,
    )


def _short(error: jsonschema.ValidationError) -> tuple[str | None, str]:
    """Where a record breaks its schema and how, from the schema and the value's shape only (a
    record value is never quoted, not even a key that might be a secret)."""
    path = path_text(error.absolute_path) if error.absolute_path else None
    return path, describe_schema_error(error, show_values=False)


@produces("record.schema")
def bind_schema(ctx: EntityContext) -> RecordRule:
    """The fast pre-check passes most records; the full JSON Schema validator names the faults."""
    schema = ctx.entity.validator
    fast = ctx.entity.fast_check
    finding, file = ctx.finding, ctx.entity.file

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        if fast is not None and fast(record):
            return False
        bad = False
        for err in schema.iter_errors(record):
            fld, msg = _short(err)
            finding("record.schema", file, msg, line=line, record_id=rid, field=fld)
            bad = True
        return bad

    return check


@produces("record.duplicate_id")
def report_duplicate_ids(ctx: ExportContext, index: RecordIndex) -> None:
    files = {e.name: e.file for e in ctx.contract.entities}
    for entity, rid, line in index.duplicates():
        ctx.finding(
            "record.duplicate_id",
            files[entity],
            "primary key repeats an earlier record",
            line=line,
            record_id=rid,
        )
        ctx.report.mark_invalid(entity, rid)
