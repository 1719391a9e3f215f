"""The strict reader's building blocks on foreign and hostile text: exact duplicate-key detection
(fast path proven equal to the slow one), depth, NUL, strict RFC 3339, PostgreSQL-shaped columns."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.clock import _parse_rfc3339, parse_rfc3339
from harness.portable.contract import Strictness, load_contract
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.rules.context import EntityContext, RecordRule
from harness.portable.validate.rules.reader import (
    bind_reader,
    depth,
    holds_nul,
    repeats_a_key,
    repeats_a_key_exactly,
)
from harness.portable.validate.rules.types import _integral_literal, _uuid, _uuid_any_form
from tests.conftest import REFERENCE_CONTRACT

DUPLICATES = [
    '{"id":1,"id":2}',
    '{"id":1,"x":{"a":1,"a":1}}',
    '{"id":1,"x":[{"k":"v"},{"k":"v","k":"w"}]}',
    '{"id":1,"\\u0069d":2}',  # the same key, escaped
    '{"a:b":1,"a:b":2}',  # colons inside keys
    '{"id":1,"note":"a:b","note":"c"}',  # the dropped value held a colon
    '{"id":1,"x":{"y":{"z":1}},"x":2}',  # the dropped value held keys of its own
    '{ "id" : 1 , "id" : 1 }',
]
UNIQUE = [
    '{"id":1}',
    '{"id":1,"t":"2025-01-01T10:00:00Z","u":"https://x:8080/a:b"}',
    '{"id":1,"x":[{"k":1},{"k":2}],"y":{"k":3}}',
    '{"id":1,"s":"\\":\\":"}',  # escaped quotes and colons in a string
    '{"id":1,"\\u0069":2,"i2":3}',
    '{ "id" : 1 , "b" : [ 1 , { "c" : ":" } ] }',
    '{"id":1,"e":{},"l":[]}',
]


@pytest.mark.parametrize("text", DUPLICATES)
def test_repeated_keys_are_found_at_any_depth_and_in_any_encoding(text: str) -> None:
    record = orjson.loads(text)
    assert repeats_a_key(text, record)
    assert repeats_a_key_exactly(text)


@pytest.mark.parametrize("text", UNIQUE)
def test_unique_keys_are_not_reported(text: str) -> None:
    assert not repeats_a_key(text, orjson.loads(text))
    assert not repeats_a_key_exactly(text)


_KEYS = st.sampled_from(["id", "a", "b", "a:b", ":", 'q"', "\\", "é", "x y"])
_SCALARS = st.one_of(st.integers(-5, 5), st.sampled_from(["", ":", "a:b", '"', "\\:", "é:", "ok"]), st.none())


def _value(depth_left: int) -> st.SearchStrategy[str]:
    scalar = _SCALARS.map(json.dumps)
    if depth_left == 0:
        return scalar
    inner = _value(depth_left - 1)
    obj = st.lists(st.tuples(_KEYS, inner), max_size=4).map(
        lambda pairs: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"
    )
    arr = st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]")
    return st.one_of(scalar, obj, arr)


@settings(max_examples=500, deadline=None)
@given(
    pairs=st.lists(st.tuples(_KEYS, _value(2)), min_size=1, max_size=6),
    spaced=st.booleans(),
)
def test_fast_duplicate_test_equals_the_exact_one(pairs: list[tuple[str, str]], spaced: bool) -> None:
    sep = " : " if spaced else ":"
    text = "{" + ", ".join(f"{json.dumps(k)}{sep}{v}" for k, v in pairs) + "}"
    assert repeats_a_key(text, orjson.loads(text)) == repeats_a_key_exactly(text)


def test_depth_is_counted_iteratively_and_stops_past_the_limit() -> None:
    value: object = 1
    for _ in range(5000):  # deeper than Python's recursion limit
        value = [value]
    assert depth(value, 32) == 33
    assert depth({"a": [{"b": 1}]}, 10) == 3
    assert depth(1, 10) == 0
    assert depth([], 10) == 1


def test_nul_is_found_in_values_and_keys_only_when_decoded() -> None:
    assert holds_nul({"a": ["x", {"b": "y\x00z"}]})
    assert holds_nul({"k\x00": 1})
    assert not holds_nul(json.loads('{"a": "\\\\u0000"}'))  # an escaped backslash, then text


RFC3339_GOOD = [
    ("2025-01-01T00:00:00Z", datetime(2025, 1, 1, tzinfo=UTC)),
    ("2025-01-01t00:00:00z", datetime(2025, 1, 1, tzinfo=UTC)),
    ("2025-06-30T23:59:59.999999Z", datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=UTC)),
    ("2025-06-30T23:59:59.5Z", datetime(2025, 6, 30, 23, 59, 59, 500000, tzinfo=UTC)),
    ("2024-02-29T10:00:00+05:30", datetime(2024, 2, 29, 10, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    (
        "2025-01-01T10:00:00-15:59",
        datetime(2025, 1, 1, 10, tzinfo=timezone(-timedelta(hours=15, minutes=59))),
    ),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59Z", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
]
RFC3339_BAD = [
    "2025-13-01T00:00:00Z",  # month 13
    "2025-02-29T00:00:00Z",  # not a leap year
    "2025-01-32T00:00:00Z",
    "0000-01-01T00:00:00Z",  # year 0
    "2025-01-01T24:00:00Z",
    "2025-01-01T23:60:00Z",
    "2025-01-01T23:59:60Z",  # leap seconds: PostgreSQL and Python read them differently
    "2025-W01-1T00:00:00Z",  # ISO week date
    "20250101T000000Z",  # basic format
    "2025-01-01T00Z",  # hour only
    "2025-01-01T00:00Z",  # no seconds
    "2025-01-01 00:00:00Z",  # space instead of T
    "2025-01-01T00:00:00",  # no zone
    "2025-01-01T00:00:00.Z",  # empty fraction
    "2025-01-01T00:00:00.1234567Z",  # more than PostgreSQL keeps
    "2025-01-01T00:00:00+24:00",
    "2025-01-01T00:00:00-16:00",  # PostgreSQL: "time zone displacement out of range"
    "2025-01-01T00:00:00+0530",
    "2025-01-01T00:00:00+05:60",
    "2025-01-01T00:00:00UTC",
    "+2025-01-01T00:00:00Z",
    "\uff12\uff10\uff12\uff15-01-01T00:00:00Z",  # full-width digits
    "",
]


@pytest.mark.parametrize(("text", "moment"), RFC3339_GOOD)
def test_strict_rfc3339_reads_what_both_python_and_postgresql_read(text: str, moment: datetime) -> None:
    assert parse_rfc3339(text) == moment


@pytest.mark.parametrize("text", RFC3339_BAD)
def test_strict_rfc3339_refuses_lenient_forms(text: str) -> None:
    assert parse_rfc3339(text) is None


_COMMON_FORMS = ["2025-01-31T23:59:59Z", *(f"2025-01-31T23:59:59.{'123456'[:n]}Z" for n in range(1, 7))]
_ODD_CHARACTERS = st.sampled_from(list("0123456789-+:.TtZzW ,_\x00\u0663\uff11\u212a/"))


@settings(max_examples=3000, deadline=None)
@given(
    form=st.sampled_from(_COMMON_FORMS),
    changes=st.lists(st.tuples(st.integers(0, 26), _ODD_CHARACTERS), max_size=3),
    max_fraction=st.sampled_from([6, 3, 0]),
)
def test_the_fast_rfc3339_path_reads_exactly_what_the_strict_parser_reads(
    form: str, changes: list[tuple[int, str]], max_fraction: int
) -> None:
    """The common form goes to datetime.fromisoformat; any character anywhere changed (digits out of
    range, separators, other digits, signs) must give what the strict parser gives."""
    text = list(form)
    for at, char in changes:
        text[at % len(text)] = char
    value = "".join(text)
    assert parse_rfc3339(value, max_fraction=max_fraction) == _parse_rfc3339(value, max_fraction=max_fraction)


def test_strict_rfc3339_refuses_non_strings() -> None:
    assert parse_rfc3339(20250101) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", True),
        ("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", True),
        ("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}", True),
        ("a0eebc999c0b4ef8bb6d6bb9bd380a11", True),
        ("a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", True),
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", False),
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g", False),
        ("-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", False),
        ("a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11", False),
        ("a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11", False),
        ("{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", False),
        # 36 characters, four hyphens, one of them a place early (the first is above)
        ("a0eebc99-9c0-b4ef8-bb6d-6bb9bd380a11", False),
        ("a0eebc99-9c0b-4ef-8bb6d-6bb9bd380a11", False),
        ("a0eebc99-9c0b-4ef8-bb6-d6bb9bd380a11", False),
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a \t", False),  # whitespace that fromhex skips
        (12345, False),
    ],
)
def test_uuid_column_reads_what_postgresql_reads(value: object, ok: bool) -> None:
    assert _uuid(value) is ok
    assert _uuid_any_form(value) is ok


_ODD_UUID_CHARS = st.sampled_from(["-", "g", " ", "\t", "\x0b", "_", "+", "\u0661", "é", "{", "}", "A", "0"])


@settings(max_examples=3000, deadline=None)
@given(
    digits=st.text(alphabet="0123456789abcdefABCDEF", min_size=32, max_size=32),
    changes=st.lists(st.tuples(st.integers(0, 35), _ODD_UUID_CHARS), max_size=3),
    subclass=st.booleans(),
)
def test_the_canonical_uuid_shortcut_answers_as_the_general_test(
    digits: str, changes: list[tuple[int, str]], subclass: bool
) -> None:
    """A canonical uuid with up to three characters replaced (hyphens moved or doubled, whitespace
    fromhex would skip, non-ASCII digits, braces): the shortcut and the general test agree."""
    chars = list(f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}")
    for at, char in changes:
        chars[at] = char
    value: str = "".join(chars)
    if subclass:
        value = type("Text", (str,), {})(value)
    assert _uuid(value) is _uuid_any_form(value)


@pytest.mark.parametrize(
    ("literal", "ok"),
    [
        ("1e3", True),
        ("1.5e1", True),
        ("1E+2", True),
        ("2.0", False),
        ("1.50e1", False),
        ("0.5", False),
        ("1e-1", False),
        ("9223372036854775807", True),
        ("9.223372036854775808e18", False),  # one past bigint
        ("18446744073709551616", False),
    ],
)
def test_integral_literals_for_integer_columns(literal: str, ok: bool) -> None:
    value = json.loads(literal, parse_float=Decimal, parse_int=Decimal)
    assert _integral_literal(value, -(2**63), 2**63 - 1) is ok


@functools.cache
def _bound_reader() -> tuple[ValidationReport, RecordRule]:
    report = ValidationReport(export_dir=Path("."))
    ent = load_contract(REFERENCE_CONTRACT).entity("tasks")
    return report, bind_reader(EntityContext(report, Strictness(), ent, None, None))  # type: ignore[arg-type]


def _reader_findings(text: str) -> set[str]:
    """The rule ids the bound reader rule reports for one line (all its fast paths in play)."""
    report, check = _bound_reader()
    report.findings.clear()
    bad = check(orjson.loads(text), text, 1, "1")
    found = {f.rule for f in report.findings}
    assert bad == bool(found)
    return found


def _written(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        return json.dumps(value)


def _reader_model(text: str) -> set[str]:
    """What the reader rule must report, from first principles (no shortcut of the rule's)."""
    want = set()
    if not text.endswith("\n"):
        want.add("file.final_newline")
    elif text.endswith("\r\n"):
        want.add("record.line_ending")
    body = text.rstrip("\n").removesuffix("\r") if text.endswith("\r\n") else text.removesuffix("\n")
    if body[:1] in (" ", "\t", "\r") or body[-1:] in (" ", "\t", "\r"):
        want.add("record.whitespace")
    if repeats_a_key_exactly(text):
        want.add("record.duplicate_key")
    if holds_nul(orjson.loads(text)):
        want.add("record.nul")
    return want


_WRITERS = st.sampled_from(["orjson", "spaced", "ascii", "orjson-crlf", "orjson-nolf", "padded"])
_ODD = ["", ":", "a:b", '"', "\\", "\x00", "é", "\u2028", "\\u0000"]
_STRINGS = st.one_of(st.sampled_from(_ODD), st.text(max_size=6))
_NUMBERS = st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False))


@settings(max_examples=1500, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(_KEYS, st.one_of(_STRINGS, _NUMBERS)),
        min_size=1,
        max_size=6,
    ),
    writer=_WRITERS,
    nested=st.booleans(),
)
def test_the_reader_rule_reports_what_first_principles_say_however_the_line_is_written(
    pairs: list[tuple[str, object]], writer: str, nested: bool
) -> None:
    """Lines written by orjson (the canonical form the rule's fastest path compares against), by
    json.dumps with spaces or ASCII escapes, with CR LF, without the final LF, or padded, with keys
    that may repeat (the canonical write of the decoded record has one fewer) and NUL anywhere."""
    members = [f"{json.dumps(k, ensure_ascii=writer != 'orjson')}:{_written(v)}" for k, v in pairs]
    if writer == "spaced":
        members = [m.replace(":", " : ", 1) if m.startswith('"') else m for m in members]
    body = "{" + ",".join(members) + "}"
    if nested:
        body = '{"outer":' + body + ',"n":1}'
    if writer == "ascii":
        body = json.dumps(json.loads(body)) if "outer" not in body else body
    ends = {"orjson-crlf": body + "\r\n", "orjson-nolf": body, "padded": " " + body + "\n"}
    text = ends.get(writer, body + "\n")
    assert _reader_findings(text) == _reader_model(text)


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ('{"id":1,"note":"x"}\n', set()),
        ('{"id":1,"note":"\\u0000"}\n', {"record.nul"}),  # canonical, as orjson writes NUL
        ('{"id":1,"note":"\\\\u0000"}\n', set()),  # a backslash, then text
        ('{"id":1,"id":1}\n', {"record.duplicate_key"}),  # the record written back has one key
        ('{"id":1,"x":{"a":"b:c","a":"b:c"}}\n', {"record.duplicate_key"}),
        ('{"":0,"":1e5}\n', {"record.duplicate_key"}),  # as long as the record written back: {"":100000.0}
        ('{"a":1e5,"b":2}\n', set()),
        ('{"id": 1}\n', set()),
        ('{"id":1}\r\n', {"record.line_ending"}),
        ('{"id":1} \n', {"record.whitespace"}),
        ('{"id":1}', {"file.final_newline"}),
    ],
)
def test_the_reader_rule_on_lines_written_exactly_and_otherwise(text: str, rules: set[str]) -> None:
    assert _reader_findings(text) == rules
