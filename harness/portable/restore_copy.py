"""Typed COPY for the empty-target bulk load: records COPYed straight into their tables.

The staged path (``harness.portable.restore_empty``) COPYs each line into a ``jsonb`` table and
converts it with ``jsonb_populate_record``. Here the client converts each record the way
``jsonb_populate_record`` would, and COPYs text rows (``COPY ... FROM STDIN``) into the table, so
the server parses each value once, with the column type's own input function, as there:

* a JSON string goes in as its unescaped text (the type's input function decides, with the
  column's type modifier); a number as PostgreSQL's ``numeric`` text of it (``1e2`` -> ``100``,
  ``1.10`` stays ``1.10``, ``-0`` -> ``0``); ``true``/``false`` as that text; ``null`` or an absent
  field as NULL;
* into a ``jsonb`` column any value but ``null`` goes in as JSON text, floats in their original
  text (orjson would round ``1.10`` to ``1.1``; a record holding a float is decoded again with the
  standard library keeping every number's text);
* into an array column a JSON array of scalars becomes an array literal; a string is the array's
  text form, as there.

Whatever this converter cannot prove it renders as ``jsonb_populate_record`` would makes the
entity step aside for the staged path, which then decides (``StepAside`` says why; the evidence
records it): domains anywhere in the table, ``json`` or composite columns, generated or ``GENERATED
ALWAYS`` identity columns, rules or row security, an encoding other than UTF-8; per value, an object
or array into another column, an object or nested array inside an array column, a field that is not
the entity's, a number over 1000 digits or with an exponent beyond 1000, a line holding a raw tab or
carriage return or a ``\\u0000`` escape, or anything orjson and the standard library do not both read
as one JSON object. A value the server refuses is reported by entity, line and field, never itself.
"""

from __future__ import annotations

import json
import operator
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.copy import LibpqWriter

from harness.files import line_blocks
from harness.portable.contract import Entity
from harness.postgres.errors import server_error

METHOD = "typed COPY"
_CHUNK = 1 << 20
_JSONB, _JSON = 3802, 114
_MAX_DIGITS = 1000  # numeric_in reads far more; beyond this the staged path decides
_SCALAR_TYPES = ("b", "e", "r", "m")  # base, enum, range, multirange: the input function decides
_SIMPLE = frozenset({str, int, type(None)})  # what psycopg writes exactly as jsonb_populate_record


class StepAside(Exception):
    """This entity (or one of its values) cannot be converted exactly: the staged path loads it."""


class CopyRefused(Exception):
    """The server refused a row of the typed COPY; ``what`` names entity, line and field."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail}")
        self.what = what
        self.detail = detail


class _Exact(Exception):
    """The record holds a float (orjson rounds its text): decode it again keeping every number."""


class _Raw:
    """A JSON number's original text (from the exact decoder)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _int(text: str) -> int | _Raw:
    return int(text) if len(text) < 19 else _Raw(text)  # orjson.dumps writes 64-bit integers only


def _refuse(text: str) -> None:
    raise ValueError("NaN and Infinity are not JSON")


_DECODE = json.JSONDecoder(parse_float=_Raw, parse_int=_int, parse_constant=_refuse).decode


def numeric_text(text: str) -> str:
    """PostgreSQL's ``numeric_out(numeric_in(text))`` for a JSON number's text: how
    ``jsonb_populate_record`` hands a JSON number to a column's input function."""
    _, _, exponent = text.lower().partition("e")
    if len(text) > _MAX_DIGITS or (exponent and abs(int(exponent)) > _MAX_DIGITS):
        raise StepAside("a number too long to convert here")
    number = Decimal(text)
    out = format(number, "f")
    return out[1:] if out.startswith("-") and not number else out  # numeric has no negative zero


def _fragment(value: Any) -> orjson.Fragment:
    if type(value) is _Raw:
        return orjson.Fragment(value.text)
    raise TypeError


def _has_float(value: dict[str, Any] | list[Any]) -> bool:
    items = value.values() if type(value) is dict else value
    kinds = set(map(type, items))
    if float in kinds:
        return True
    if dict in kinds or list in kinds:
        return any(_has_float(x) for x in items if type(x) is dict or type(x) is list)
    return False


def _scalar(value: Any, where: str = "into a column that is neither jsonb nor an array") -> Any:
    kind = type(value)
    if kind in _SIMPLE:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is _Raw:
        return numeric_text(value.text)
    if kind is float:
        raise _Exact
    raise StepAside(f"an object or array {where}")


def _jsonb(value: Any) -> str | None:
    if value is None:
        return None
    kind = type(value)
    if kind is float:
        raise _Exact
    if (kind is dict or kind is list) and _has_float(value):
        raise _Exact
    try:
        return orjson.dumps(value, default=_fragment).decode()
    except orjson.JSONEncodeError:  # a lone surrogate, too deep
        raise StepAside("a jsonb value orjson cannot write") from None


def _element(value: Any) -> str:
    if type(value) is str:
        text: str = value
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "NULL" if value is None else str(_scalar(value, "inside an array column"))


def _array(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value  # a string is the array's text form (array_in), as jsonb_populate_record does
    if type(value) is not list:
        raise StepAside("a value other than an array or a string into an array column")
    return "{" + ",".join(map(_element, value)) + "}"


@dataclass(frozen=True)
class Layout:
    """How an entity's records become COPY rows: the plain (scalar) columns first, then the jsonb
    and array columns, each with the record field it comes from."""

    table: sql.Composable
    columns: tuple[str, ...]
    fields: tuple[str, ...]
    types: tuple[str, ...]  # format_type of each column (for messages)
    plain: int  # the first ``plain`` columns take scalars
    special: tuple[Callable[[Any], str | None], ...]  # the converter of each jsonb or array column

    def statement(self) -> sql.Composed:
        return sql.SQL("COPY {} ({}) FROM STDIN").format(
            self.table, sql.SQL(", ").join(sql.Identifier(c) for c in self.columns)
        )


_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.atttypid, t.typtype,
       t.typsubscript = 'array_subscript_handler'::regproc, e.oid, e.typtype, e.typdelim,
       a.attidentity, a.attgenerated
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typsubscript = 'array_subscript_handler'::regproc
WHERE a.attrelid = %(table)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_TABLE_SQL = """
SELECT c.relhasrules, c.relrowsecurity, current_setting('server_encoding'),
       current_setting('client_encoding')
FROM pg_class c WHERE c.oid = %(table)s::regclass
"""


def layout(cur: psycopg.Cursor[Any], ent: Entity) -> Layout:
    """The entity's COPY layout (read-only catalog queries); StepAside says why there is none."""
    assert ent.table is not None
    row = cur.execute(_TABLE_SQL, {"table": ent.table}).fetchone()
    assert row is not None
    rules, row_security, server_encoding, client_encoding = row
    if rules or row_security:
        raise StepAside("the table has rules or row security (COPY would not apply them as INSERT does)")
    if server_encoding != "UTF8" or client_encoding != "UTF8":
        raise StepAside("the server or client encoding is not UTF-8")
    catalog = {str(r[0]): r[1:] for r in cur.execute(_COLUMNS_SQL, {"table": ent.table}).fetchall()}
    for name, (_, _, typtype, *_rest) in catalog.items():
        if typtype == "d":  # jsonb_populate_record checks a domain even for an absent field
            raise StepAside(f"column {name} has a domain type")
    fields = {ent.column(f): f for f in ent.fields}
    if len(fields) != len(ent.fields) or not fields.keys() <= catalog.keys():
        raise StepAside("a field has no column of its own")  # the staged path names it
    plain: list[tuple[str, str, str]] = []
    special: list[tuple[str, str, str, Callable[[Any], str | None]]] = []
    for column, fld in fields.items():
        type_name, oid, typtype, is_array, elem, elem_type, delimiter, identity, generated = catalog[column]
        if identity == "a" or generated:
            raise StepAside(f"column {column} is generated or GENERATED ALWAYS AS IDENTITY")
        if oid == _JSONB:
            special.append((column, fld, str(type_name), _jsonb))
        elif is_array:
            if elem_type not in _SCALAR_TYPES or elem in (_JSONB, _JSON) or delimiter != ",":
                raise StepAside(f"column {column} is an array of a type converted only in the server")
            special.append((column, fld, str(type_name), _array))
        elif typtype in _SCALAR_TYPES and oid != _JSON:
            plain.append((column, fld, str(type_name)))
        else:
            raise StepAside(f"column {column} is json or a composite type")
    table = sql.Identifier(*ent.table.split("."))
    cols = [*plain, *((c, f, t) for c, f, t, _ in special)]
    return Layout(
        table,
        tuple(c for c, _, _ in cols),
        tuple(f for _, f, _ in cols),
        tuple(t for _, _, t in cols),
        len(plain),
        tuple(conv for _, _, _, conv in special),
    )


def _converter(lay: Layout) -> Callable[[Any], tuple[Any, ...]]:
    """``convert(record)``: the COPY row of one decoded record."""
    count = len(lay.fields)
    allowed = frozenset(lay.fields)
    getter: Callable[[dict[str, Any]], Any]
    if count > 1:
        getter = operator.itemgetter(*lay.fields)
    else:
        only = lay.fields[0]
        getter = lambda r: (r[only],)  # noqa: E731 (itemgetter of one field gives no tuple)
    special = lay.special
    one = special[0] if len(special) == 1 else None

    def convert(record: Any) -> tuple[Any, ...]:
        if type(record) is not dict:
            raise StepAside("a line that is not a JSON object")
        try:
            values = getter(record)
        except KeyError:  # an absent field is NULL
            if not record.keys() <= allowed:
                raise StepAside("a record holds a field without a column of its own") from None
            values = tuple(map(record.get, lay.fields))
        else:
            if len(record) != count:  # every field is there, and another key too
                raise StepAside("a record holds a field without a column of its own")  # staged path names it
        if one is not None:
            row = values[:-1]
            if not _SIMPLE.issuperset(map(type, row)):
                row = tuple(map(_scalar, row))
            return (*row, one(values[-1]))
        if special:
            row = values[: lay.plain]
            if not _SIMPLE.issuperset(map(type, row)):
                row = tuple(map(_scalar, row))
            extra = values[lay.plain :]
            return row + tuple([conv(v) for v, conv in zip(extra, special, strict=True)])
        if not _SIMPLE.issuperset(map(type, values)):
            values = tuple(map(_scalar, values))
        return values

    return convert


def _blocks(path: Path) -> Iterator[tuple[list[bytes], bool]]:
    """The file's lines a block at a time, and whether the block holds a backslash (only then may a
    decoded string hold a character COPY must escape); StepAside for bytes COPY-into-jsonb reads
    otherwise."""
    for lines, block in line_blocks(path, _CHUNK):
        escaped = b"\\" in block
        if b"\t" in block or b"\r" in block or (escaped and b"\\u0000" in block):
            raise StepAside("a line holds a raw tab or carriage return, or a \\u0000 escape")
        yield lines, escaped


def _escape(value: str) -> str:
    """COPY text escaping (only for values decoded from a line holding a backslash)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    return value.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


class _Pipe(LibpqWriter):
    """Writes COPY data from a thread through a short queue: the client converts the next block
    while the server reads this one, and memory stays bounded."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        super().__init__(cursor)
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=4)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _work(self) -> None:
        try:
            while data := self._queue.get():
                super().write(data)
        except BaseException as exc:  # handed to the main thread; keep draining so put() never blocks
            self._error = exc
            while self._queue.get():
                pass

    def write(self, data: Any) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="drill-copy", daemon=True)
            self._thread.start()
        if self._error is not None:
            raise self._error
        self._queue.put(bytes(data))

    def finish(self, exc: BaseException | None = None) -> None:
        if self._thread is not None:
            self._queue.put(b"")
            self._thread.join()
            self._thread = None
        if self._error is not None and exc is None:
            raise self._error
        super().finish(exc)


def _refusal(ent: Entity, lay: Layout, exc: psycopg.Error, lines: int) -> CopyRefused:
    """Name entity, line and field of a row the server refused; never the value."""
    context = (exc.diag.context or "").split("\n", 1)[0]
    where = f"entity {ent.name!r}"
    _, found, rest = context.partition(", line ")
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
    if found and digits:
        where += f" line {digits}"
        rest = rest[len(digits) :]
        for column, fld, type_name in zip(lay.columns, lay.fields, lay.types, strict=True):
            if rest.startswith((f", column {column}:", f', column "{column}":')):
                where += f" field {fld!r}"
                if (exc.sqlstate or "").startswith("22"):  # a data exception: the value's type
                    return CopyRefused(where, f"not a valid {type_name} (SQLSTATE {exc.sqlstate})")
                break
    elif lines:
        where += f" (after line {lines})"
    return CopyRefused(where, server_error(exc))


def copy_entity(cur: psycopg.Cursor[Any], ent: Entity, lay: Layout, path: Path) -> int:
    """COPY the entity's file into its table; rows. Raises StepAside (the COPY is abandoned: the
    caller rolls back to its savepoint) or CopyRefused (the server refused a row)."""
    convert = _converter(lay)
    loads, decode, null = orjson.loads, _DECODE, "\\N"
    lines = 0
    try:
        with cur.copy(lay.statement(), writer=_Pipe(cur)) as copy:
            for block, escaped in _blocks(path):
                out: list[str] = []
                for line in block:
                    lines += 1
                    try:
                        row = convert(loads(line))
                    except (_Exact, orjson.JSONDecodeError):
                        try:
                            record = decode(line.decode("utf-8"))
                        except (ValueError, RecursionError):
                            raise StepAside(
                                f"line {lines} is not JSON that both readers decode as PostgreSQL does"
                            ) from None
                        row = convert(record)
                    # Every value is now a str, an int or None.
                    if escaped and b"\\" in line:
                        text = "\t".join(
                            [_escape(v) if type(v) is str else null if v is None else str(v) for v in row]
                        )
                    elif None in row:
                        text = "\t".join([null if v is None else str(v) for v in row])
                    else:
                        text = "\t".join(map(str, row))
                    out.append(text)
                out.append("")
                try:
                    data = "\n".join(out).encode()
                except UnicodeEncodeError:
                    raise StepAside(f"a line before line {lines + 1} holds a lone surrogate") from None
                copy.write(data)
    except psycopg.Error as exc:
        raise _refusal(ent, lay, exc, lines) from None
    return cur.rowcount if cur.rowcount >= 0 else lines  # rows a BEFORE trigger skipped are not loaded


def load(cur: psycopg.Cursor[Any], ent: Entity, path: Path) -> tuple[int | None, str]:
    """The typed COPY of one entity inside a savepoint: (rows, METHOD), or (None, "staged: why")
    with the savepoint rolled back when it stepped aside. CopyRefused when the server refused a row."""
    try:
        lay = layout(cur, ent)
    except StepAside as exc:
        return None, f"staged: {exc}"
    cur.execute("SAVEPOINT drill_typed_copy")
    try:
        rows = copy_entity(cur, ent, lay, path)
    except StepAside as exc:
        cur.execute("ROLLBACK TO SAVEPOINT drill_typed_copy")
        cur.execute("RELEASE SAVEPOINT drill_typed_copy")
        return None, f"staged: {exc}"
    cur.execute("RELEASE SAVEPOINT drill_typed_copy")
    return rows, METHOD
