"""A fast "is this record valid?" pre-check for the simple JSON Schemas export contracts use.

``jsonschema`` stays the authority: it produces every finding message. Walking its validator
for each of a million records costs ~250 µs a record, though, and almost every record is
valid. :func:`compile_schema` turns a schema that uses only a small keyword subset
(type, properties, required, additionalProperties, enum/const of strings and nulls, pattern
(run by RE2, as in harness.schema_patterns),
min/maxLength, numeric bounds, items, min/maxItems) into a plain Python predicate with the
same meaning. The validator asks the predicate first and runs ``jsonschema`` only for records
it rejects, so a rejection can never be lost and a bug here can only cost time if it is too
strict. A schema using any other keyword (``$ref``, ``anyOf``, ``format``, ...) is not compiled
and every record goes to ``jsonschema``. tests/test_fastschema.py checks equivalence.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import jsonschema

from harness.schema_patterns import compile_pattern

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$comment", "title", "description", "default", "examples", "deprecated"}
    | {"readOnly", "writeOnly"}
)
SUPPORTED = _ANNOTATIONS | {
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


#: The JSON Schema type names of the subset.
TYPE_NAMES = frozenset(_TYPES)


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
    if not isinstance(schema, dict) or not set(schema) <= SUPPORTED:
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
        search = compile_pattern(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or search(v))
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


class _Source:
    """Python source for one object schema's check, its constants bound to generated names
    (``k0``, ``k1``...): no schema text ever becomes code, however the contract is written."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {
            "_is_integer": _is_integer,
            "_is_number": _is_number,
            "_MISSING": _MISSING,
        }

    def const(self, value: Any) -> str:
        name = f"k{len(self.names)}"
        self.names[name] = value
        return name

    def fail_unless(self, condition: str, indent: int) -> None:
        self.lines.append(f"{'    ' * indent}if not ({condition}):")
        self.lines.append(f"{'    ' * indent}    return False")


_MISSING = object()
_TYPE_EXPRESSIONS = {
    "string": "isinstance({v}, str)",
    "integer": "({v}.__class__ is int or _is_integer({v}))",
    "number": "({v}.__class__ is int or _is_number({v}))",
    "boolean": "isinstance({v}, bool)",
    "null": "{v} is None",
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
}
#: Keywords a property's schema may use to be written inline (the rest go through _compile).
_INLINE = _ANNOTATIONS | {"type", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum"}


def _inline_property(src: _Source, schema: dict[str, Any], var: str, indent: int) -> None:
    """Statements that return False when ``var`` breaks ``schema`` (keywords of ``_INLINE``)."""
    if "type" in schema:
        spec = schema["type"]
        names = [spec] if isinstance(spec, str) else spec
        if not isinstance(names, list) or not names or any(n not in _TYPE_EXPRESSIONS for n in names):
            raise _Unsupported
        src.fail_unless(" or ".join(_TYPE_EXPRESSIONS[n].format(v=var) for n in names), indent)
    if "enum" in schema:
        allowed = src.const(_members(schema["enum"]))
        src.fail_unless(f"({var} is None or isinstance({var}, str)) and {var} in {allowed}", indent)
    # Past a type test of "string" alone the value is a string: the string tests need no guard.
    guard = "" if schema.get("type") == "string" else f"not isinstance({var}, str) or "
    if "pattern" in schema:
        search = src.const(compile_pattern(schema["pattern"]))
        src.fail_unless(f"{guard}{search}({var})", indent)
    for key, op in (("minLength", ">="), ("maxLength", "<=")):
        if key in schema:
            bound = src.const(schema[key])
            src.fail_unless(f"{guard}len({var}) {op} {bound}", indent)
    for key, op in (("minimum", ">="), ("maximum", "<=")):
        if key in schema:
            if not _is_number(schema[key]):
                raise _Unsupported
            bound = src.const(schema[key])  # an int passes or fails on the comparison alone
            fast = f"({var}.__class__ is int and {var} {op} {bound})"
            src.fail_unless(f"{fast} or not _is_number({var}) or {var} {op} {bound}", indent)


#: A test of a field's value, applied when the field is present and not null (see generate_check).
FieldTest = tuple[Any, ...]


def _field_test(src: _Source, test: FieldTest, var: str) -> str:
    kind = test[0]
    if kind == "one_of":  # ("one_of", strings, integers): an exact str or int member
        strings, integers = src.const(test[1]), src.const(test[2])
        member = f"({var}.__class__ is str and {var} in {strings})"
        return f"{member} or ({var}.__class__ is int and {var} in {integers})"
    if kind == "int_range":  # ("int_range", low, high): not a float, and an int only within the range
        low, high = src.const(test[1]), src.const(test[2])
        return f"{var}.__class__ is not float and ({var}.__class__ is not int or {low} <= {var} <= {high})"
    if kind == "call":  # ("call", predicate)
        return f"{src.const(test[1])}({var})"
    raise ValueError(f"unknown field test {kind!r}")


def _rfc3339_statements(src: _Source, test: FieldTest, var: str, indent: int) -> None:
    """``("rfc3339", fromisoformat, parse)``: the strict parser's own fast form written inline
    (``harness.clock.parse_rfc3339``: ``YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z`` in ASCII goes to
    ``fromisoformat``), every other string to ``parse``; null passes."""
    pad = "    " * indent
    fromiso, parse = src.const(test[1]), src.const(test[2])
    short = f'len({var}) == 20 and {var}[4:17:3] == "--T::"'
    fraction = f'22 <= len({var}) <= 27 and {var}[4:20:3] == "--T::."'
    form = f'{var}.__class__ is str and {var}[-1:] == "Z" and ({short} or {fraction}) and {var}.isascii()'
    src.lines += [
        f"{pad}if {var} is not None:",
        f"{pad}    if {form}:",
        f"{pad}        try:",
        f"{pad}            {fromiso}({var})",
        f"{pad}        except ValueError:",
        f"{pad}            return False",
        f"{pad}    elif {parse}({var}) is None:",
        f"{pad}        return False",
    ]


def generate_check(
    schema: dict[str, Any] | None,
    field_tests: dict[str, list[FieldTest]] | None = None,
    absent: frozenset[str] = frozenset(),
    any_of: tuple[tuple[str, ...], ...] = (),
) -> Check:
    """One function for an object ``schema`` (None: no schema part) that also requires the tests
    of ``field_tests`` of every present non-null field, no key of ``absent``, and at least one
    non-null field of each group of ``any_of``: required and additional keys as set operations on
    the keys, each property's simple checks written inline, anything else its _compile check."""
    src = _Source()
    schema = schema if schema is not None else {}
    tests = field_tests or {}
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    src.lines.append("def check(v):")
    if schema.get("type") == "object":
        src.fail_unless("isinstance(v, dict)", 1)
    elif "type" in schema:
        src.fail_unless(f"{src.const(_compile({'type': schema['type']}))}(v)", 1)
    src.lines.append("    if not isinstance(v, dict):")
    src.lines.append("        return True")
    required = frozenset(schema.get("required", ()))
    if extra is False and required == frozenset(props):  # every field required, no other: one test
        src.fail_unless(f"v.keys() == {src.const(required)}", 1)
    elif required:
        src.fail_unless(f"v.keys() >= {src.const(required)}", 1)
    if extra is not True and not (extra is False and required == frozenset(props)):
        known = src.const(frozenset(props))
        if extra is False:
            src.fail_unless(f"v.keys() <= {known}", 1)
        else:
            extra_check = src.const(_compile(extra))
            src.lines.append(f"    for key in v.keys() - {known}:")
            src.fail_unless(f"{extra_check}(v[key])", 2)
    if absent:
        src.fail_unless(f"{src.const(absent)}.isdisjoint(v)", 1)
    for group in any_of:
        src.fail_unless(" or ".join(f"v.get({src.const(f)}) is not None" for f in group), 1)
    for key in [*props, *(f for f in tests if f not in props)]:
        sub = props.get(key, True)
        head = len(src.lines)
        if key in required:  # present: the required keys were checked above
            src.lines.append(f"    x = v[{src.const(key)}]")
            indent = 1
        else:
            src.lines.append(f"    x = v.get({src.const(key)}, _MISSING)")
            src.lines.append("    if x is not _MISSING:")
            indent = 2
        start = len(src.lines)
        if isinstance(sub, dict) and set(sub) <= _INLINE:
            _inline_property(src, sub, "x", indent)
        elif sub is not True:
            src.fail_unless(f"{src.const(_compile(sub))}(x)", indent)
        for test in tests.get(key, ()):
            if test[0] == "rfc3339":
                _rfc3339_statements(src, test, "x", indent)
            else:
                src.fail_unless(f"x is None or {_field_test(src, test, 'x')}", indent)
        if len(src.lines) == start:  # nothing to check (an annotation-only schema)
            del src.lines[head:]
    src.lines.append("    return True")
    namespace = dict(src.names)
    exec(compile("\n".join(src.lines), "<fastschema>", "exec"), namespace)  # noqa: S102 - source is ours
    check: Check = namespace["check"]
    return check


def compile_schema(schema: Any) -> Check | None:
    """A predicate equivalent to ``Draft202012Validator(schema).is_valid``, or None if the schema
    uses keywords outside the supported subset. An object schema with properties becomes one
    generated function (:func:`generate_check`), equivalent to the closures of :func:`_compile`."""
    if not _same_draft(schema):
        return None
    try:
        closures = _compile(schema)
        return generate_check(schema) if generates(schema) else closures
    except _Unsupported:
        return None


def _same_draft(schema: Any) -> bool:
    """Whether ``schema`` is read as draft 6 or later (the validator's default is 2020-12): drafts
    3 and 4 differ inside the subset (``2.0`` is no integer there, ``required`` may be a boolean)."""
    if not isinstance(schema, dict) or "$schema" not in schema:
        return True
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls in _MODERN


def generates(schema: Any) -> bool:
    """Whether ``schema`` is an object schema :func:`generate_check` writes as one function."""
    if not (isinstance(schema, dict) and "properties" in schema and set(schema) <= _OBJECT_LEVEL):
        return False
    if not _same_draft(schema):
        return False
    try:
        _compile(schema)
    except _Unsupported:
        return False
    return True


_OBJECT_LEVEL = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
_MODERN = (
    jsonschema.Draft6Validator,
    jsonschema.Draft7Validator,
    jsonschema.Draft201909Validator,
    jsonschema.Draft202012Validator,
)
