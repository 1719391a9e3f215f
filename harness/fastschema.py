"""A fast "is this record valid?" pre-check for the simple JSON Schemas export contracts use.

``jsonschema`` stays the authority: it produces every finding message. Walking its validator
for each of a million records costs ~250 µs a record, though, and almost every record is
valid. :func:`compile_schema` turns a schema that uses only a small keyword subset
(type, properties, required, additionalProperties, enum/const of strings and nulls, pattern,
min/maxLength, numeric bounds, items, min/maxItems) into a plain Python predicate with the
same meaning. The validator asks the predicate first and runs ``jsonschema`` only for records
it rejects, so a rejection can never be lost and a bug here can only cost time if it is too
strict. A schema using any other keyword (``$ref``, ``anyOf``, ``format``, ...) is not compiled
and every record goes to ``jsonschema``. tests/test_fastschema.py checks equivalence.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated"}
    | {"readOnly", "writeOnly"}
)
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "items",
    "minItems",
    "maxItems",
}


class _Unsupported(Exception):
    pass


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_integer(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _type_check(spec: Any) -> Check:
    names = [spec] if isinstance(spec, str) else spec
    if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
        raise _Unsupported
    checks = [_TYPES[n] for n in names]
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        one, two = checks
        return lambda v: one(v) or two(v)
    return lambda v: any(c(v) for c in checks)


def _members(values: list[Any]) -> frozenset[str | None]:
    if not all(v is None or isinstance(v, str) for v in values):
        raise _Unsupported  # numbers and booleans compare subtly in JSON Schema; leave them to jsonschema
    return frozenset(values)


def _compile(schema: Any) -> Check:
    if schema is True or schema == {}:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, dict) or not set(schema) <= _SUPPORTED:
        raise _Unsupported
    checks: list[Check] = []
    if "type" in schema:
        checks.append(_type_check(schema["type"]))
    if "enum" in schema:
        allowed = _members(schema["enum"])
        checks.append(lambda v: (v is None or isinstance(v, str)) and v in allowed)
    if "const" in schema:
        (const,) = _members([schema["const"]])
        checks.append(lambda v: (v is None or isinstance(v, str)) and v == const)
    checks.extend(_string_checks(schema))
    checks.extend(_number_checks(schema))
    checks.extend(_array_checks(schema))
    checks.extend(_object_checks(schema))
    return _all_of(checks)


def _all_of(checks: list[Check]) -> Check:
    """One predicate from several, as nested closures (faster than ``all()`` over a list)."""
    if not checks:
        return lambda v: True
    combined = checks[-1]
    for check in reversed(checks[:-1]):
        combined = _both(check, combined)
    return combined


def _both(first: Check, second: Check) -> Check:
    return lambda v: first(v) and second(v)


def _string_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    return checks + _length_checks(str, schema.get("minLength"), schema.get("maxLength"))


def _length_checks(kind: type[str] | type[list[Any]], lo: Any, hi: Any) -> list[Check]:
    """minLength/maxLength or minItems/maxItems: values of another type pass (as in JSON Schema)."""
    checks: list[Check] = []
    if lo is not None:
        checks.append(lambda v: not isinstance(v, kind) or len(v) >= lo)
    if hi is not None:
        checks.append(lambda v: not isinstance(v, kind) or len(v) <= hi)
    return checks


def _number_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    bounds: dict[str, Callable[[Any, Any], bool]] = {
        "minimum": operator.ge,
        "maximum": operator.le,
        "exclusiveMinimum": operator.gt,
        "exclusiveMaximum": operator.lt,
    }
    for key, compare in bounds.items():
        if key in schema:
            bound = schema[key]
            if not _is_number(bound):
                raise _Unsupported
            checks.append(_bound_check(compare, bound))
    return checks


def _bound_check(compare: Callable[[Any, Any], bool], bound: float) -> Check:
    return lambda v: not _is_number(v) or compare(v, bound)


def _array_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    if "items" in schema:
        item = _compile(schema["items"])
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    return checks + _length_checks(list, schema.get("minItems"), schema.get("maxItems"))


def _object_checks(schema: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    props = {k: _compile(s) for k, s in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    extra = schema.get("additionalProperties", True)
    extra_check = None if extra is True else _compile(extra)
    if props or required or extra_check is not None:

        def check_object(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key in required:
                if key not in v:
                    return False
            for key, value in v.items():
                sub = props.get(key)
                if sub is not None:
                    if not sub(value):
                        return False
                elif extra_check is not None and not extra_check(value):
                    return False
            return True

        checks.append(check_object)
    return checks


def compile_schema(schema: Any) -> Check | None:
    """A predicate equivalent to ``Draft202012Validator(schema).is_valid``, or None if the schema
    uses keywords outside the supported subset."""
    try:
        return _compile(schema)
    except _Unsupported:
        return None
