"""Reader rules: each line is exactly one JSON object the way the restore reads it.

JSON Lines lines end in LF, with nothing around the object; a record is no longer than the
contract's ``max_record_bytes`` (longer lines are not even parsed) and nests no deeper than
``max_depth``; no JSON object repeats a key (a parser keeps one of the values silently, which can
hide a secret behind a harmless value); no string holds NUL (PostgreSQL ``text`` and ``jsonb``
cannot store it).

The checks are cheap on clean records. A line that is exactly its record written back by orjson
needs one byte comparison; another takes byte tests at the ends of the line and an exact
duplicate-key test that compares the line's colons with those of the decoded record written back
(every colon outside a string is a key's); only lines with ``\\u`` escapes take the slow path. Depth
is counted only for a record whose schema does not bound it (:func:`nesting_bound`).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from harness.fastschema import SUPPORTED, TYPE_NAMES
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule


class _Repeated(Exception):
    pass


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _Repeated
    return dict(pairs)


def repeats_a_key_exactly(text: str | bytes) -> bool:
    """Whether any JSON object in ``text`` repeats a key (decoded keys: ``"\\u0069d"`` is ``id``)."""
    try:
        json.loads(text, object_pairs_hook=_no_repeats)
    except _Repeated:
        return True
    return False


def _keys_and_colons(value: Any) -> int:
    """Keys of every object in ``value`` plus the colons inside its strings and keys."""
    if isinstance(value, str):
        return value.count(":")
    if isinstance(value, dict):
        total = 0
        for key, item in value.items():
            total += 1 + key.count(":")
            kind = type(item)
            if kind is str:
                total += item.count(":")
            elif kind is dict or kind is list:
                total += _keys_and_colons(item)
        return total
    if isinstance(value, list):
        return sum(_keys_and_colons(item) for item in value if type(item) in (str, dict, list))
    return 0


def repeats_a_key(text: str, record: dict[str, Any]) -> bool:
    """Whether the line ``text`` that decoded to ``record`` repeats a key in any of its objects.

    Without ``\\u`` escapes every colon of the line is either a key's (one per key written) or a
    colon inside a string, so the line has more colons than the decoded record explains exactly
    when an object lost a repeated key."""
    if "\\u" in text:
        return repeats_a_key_exactly(text)
    try:  # orjson writes the decoded record's keys and strings back with every colon as it is
        colons = orjson.dumps(record).count(b":")
    except orjson.JSONEncodeError:  # nested deeper than orjson writes
        colons = _keys_and_colons(record)
    return text.count(":") != colons


def depth(value: Any, limit: int) -> int:
    """How deeply objects and arrays nest in ``value`` (iterative; stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def nesting_bound(schema: Any) -> int | None:
    """How deeply objects and arrays can nest in a value ``schema`` accepts, counted as the
    strict reader counts (a scalar 0, ``[]`` 1, ``{"a": [1]}`` 2); None when nothing in the schema
    bounds it or the schema is outside the subset. Every keyword of the subset only narrows what
    ``type``, ``items``, ``properties`` and ``additionalProperties`` admit, so this is an upper bound."""
    if schema is False:
        return 0
    if not isinstance(schema, dict) or not set(schema) <= SUPPORTED:
        return None
    if "type" in schema:
        spec = schema["type"]
        names = [spec] if isinstance(spec, str) else spec
        if not isinstance(names, list) or not names or any(n not in TYPE_NAMES for n in names):
            return None
    elif _only_strings_or_null(schema):
        return 0
    else:
        return None
    deepest = 0
    if "array" in names:
        items = nesting_bound(schema["items"]) if "items" in schema else None
        if items is None:
            return None
        deepest = 1 + items
    if "object" in names:
        inner = [nesting_bound(sub) for sub in schema.get("properties", {}).values()]
        extra = schema.get("additionalProperties", True)
        if extra is not False:
            inner.append(nesting_bound(extra))
        if any(bound is None for bound in inner):
            return None
        deepest = max(deepest, 1 + max((b for b in inner if b is not None), default=0))
    return deepest


def _only_strings_or_null(schema: dict[str, Any]) -> bool:
    """Whether the schema's ``enum`` or ``const`` admits only strings and null (all the subset takes)."""
    if "enum" not in schema and "const" not in schema:
        return False
    enum = schema.get("enum", [])
    members = [*enum, schema["const"]] if "const" in schema else enum
    return isinstance(enum, list) and all(m is None or isinstance(m, str) for m in members)


def holds_nul(value: Any) -> bool:
    """Whether any string or key in ``value`` holds U+0000."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


@produces(
    "record.line_ending", "record.whitespace", "file.final_newline", "record.duplicate_key", "record.nul"
)
def bind_reader(ctx: EntityContext) -> RecordRule:
    finding, file = ctx.finding, ctx.entity.file

    dumps, encode_error, newline = orjson.dumps, orjson.JSONEncodeError, orjson.OPT_APPEND_NEWLINE

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        try:
            written = dumps(record, option=newline)
        except encode_error:  # nested deeper than orjson writes
            written = None
        if written is not None:
            if written == text.encode():
                # The line is exactly the record written back (how harness exports and many tools write):
                # one LF, nothing around the object, and as many keys as the record has, so none repeats.
                # Only a NUL, which orjson writes as an escape, is left to look for.
                if "\\u0000" not in text:
                    return False
            # Written otherwise (spacing, number forms) but ends in LF, nothing around the object, no
            # escapes: only a lost key can be wrong, and the colons tell (see repeats_a_key).
            elif (
                text[:1] == "{"
                and text[-2:] == "}\n"
                and "\\u" not in text
                and text.count(":") == written.count(b":")
            ):
                return False
        bad = False
        if text[-1:] != "\n":
            finding(
                "file.final_newline", file, "the last line has no final newline", line=line, record_id=rid
            )
            bad, body_end = True, len(text)
        elif text[-2:] == "\r\n":
            finding("record.line_ending", file, "line ends in CR LF, not LF", line=line, record_id=rid)
            bad, body_end = True, len(text) - 2
        else:
            body_end = len(text) - 1
        if text[:1] in (" ", "\t", "\r") or text[body_end - 1 : body_end] in (" ", "\t", "\r"):
            finding(
                "record.whitespace",
                file,
                "whitespace before or after the JSON object",
                line=line,
                record_id=rid,
            )
            bad = True
        if repeats_a_key(text, record):
            finding(
                "record.duplicate_key",
                file,
                "an object repeats a key; readers keep one of the values silently",
                line=line,
                record_id=rid,
            )
            bad = True
        if "\\u0000" in text and holds_nul(record):
            finding(
                "record.nul",
                file,
                "a string holds NUL (U+0000), which PostgreSQL cannot store",
                line=line,
                record_id=rid,
            )
            bad = True
        return bad

    return check


def too_deep(text: str, record: Any, limit: int) -> bool:
    """Whether ``record`` (decoded from ``text``) nests deeper than ``limit``; counting brackets
    in the text first keeps this free for ordinary records."""
    return text.count("{") + text.count("[") > limit and depth(record, limit) > limit


@produces("record.depth")
def report_too_deep(ctx: EntityContext, line: int, rid: str | None) -> None:
    """A record nested too deeply: reported, and no other rule reads it."""
    limit = ctx.strictness.max_depth
    ctx.finding(
        "record.depth",
        ctx.entity.file,
        f"objects and arrays nest deeper than max_depth {limit}",
        line=line,
        record_id=rid,
    )


@produces("record.size")
def report_oversized_line(ctx: EntityContext, line: int, size: int) -> None:
    """A line longer than ``max_record_bytes``: reported, and never parsed."""
    limit = ctx.strictness.max_record_bytes
    ctx.finding(
        "record.size", ctx.entity.file, f"line is {size} bytes, more than max_record_bytes {limit}", line=line
    )
