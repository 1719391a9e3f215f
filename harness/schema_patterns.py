"""JSON Schema's regular expressions, run by RE2 in linear time instead of Python's ``re``.

A contract's schema is input the harness did not write, and so are the records it checks: a
``pattern`` such as ``^(a+)+$`` under Python's backtracking ``re`` takes exponential time on a
record of ``a``s. Here every schema regular expression (``pattern``, ``patternProperties``, the
``regex`` format) goes through RE2 (``google-re2``), whose time is linear in the text.

What that means for a contract author (docs/contract-format.md):

- The syntax is RE2's, the ECMA-262 subset without lookaround and backreferences. A pattern RE2
  cannot compile is refused when the contract loads (:func:`check_schema_patterns`), never
  skipped.
- ``\\d`` and ``\\w`` are ASCII, as ECMA-262 says (Python's ``re`` also takes other scripts'
  digits); ``\\s`` is ``[\\t\\n\\f\\r ]``.
- ``$`` is the end of the text. Python's ``re`` also takes it before a final newline, so
  ``^[0-9a-f]{64}$`` passed a digest with a newline after it.
- A string that is not valid Unicode (a lone surrogate) matches no pattern.

:func:`validator_class` is the jsonschema validator for a schema with these keywords swapped in;
:func:`compile_pattern` is what the fast pre-check (``harness.fastschema``) calls.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import re2
from jsonschema.exceptions import ValidationError

Search = Callable[[str], bool]

#: RE2's memory budget for one compiled pattern; a larger program is refused, not run slowly.
MAX_PATTERN_MEMORY = 8 << 20

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.never_capture = True
_OPTIONS.max_mem = MAX_PATTERN_MEMORY


class PatternError(ValueError):
    """RE2 cannot compile the pattern; the message says why, never the pattern itself."""


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Search:
    """A ``search(text) -> bool`` for one schema pattern (unanchored, as JSON Schema says)."""
    if not isinstance(pattern, str):
        raise PatternError("a pattern must be a string")
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        raise PatternError(
            _reason(raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw))
        ) from None
    return _byte_search(compiled) or _text_search(compiled)


def _byte_search(compiled: Any) -> Search | None:
    """Match on the UTF-8 bytes through the RE2 object itself: a sixth of the public wrapper's
    cost per call (it maps every offset back to characters, which a yes/no does not need).
    ``None`` when this google-re2 lays its internals out otherwise."""
    program = getattr(compiled, "_regexp", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    no_match = getattr(re2, "_NULL_SPAN", None)
    if program is None or anchor is None or no_match is None:
        return None
    match = program.Match
    matches = _set_match(compiled, anchor)

    def search(text: str) -> bool:
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate: not a string any pattern can match
            return False
        if matches is not None and matches(data):
            return True  # the set's DFA found a match: there is one
        return bool(match(anchor, data, 0, len(data))[0] != no_match)  # asked again: exact either way

    return search


def _set_match(compiled: Any, anchor: Any) -> Callable[[bytes], Any] | None:
    """A one-pattern RE2 set's match (a non-empty list when the pattern matches): RE2 answers it
    with its DFA alone and computes no span, a quarter cheaper per call than ``Match``. Its "no" is
    not taken as the answer (a DFA out of memory also says no), only its "yes". None when this
    google-re2 has no sets or the set refuses the pattern."""
    make = getattr(getattr(re2, "_re2", None), "Set", None)
    pattern = getattr(compiled, "pattern", None)
    if make is None or not isinstance(pattern, str):
        return None
    try:
        one = make(anchor, getattr(compiled, "options", _OPTIONS))
        if one.Add(pattern.encode()) != 0 or not one.Compile():
            return None
    except (TypeError, ValueError, re2.error):
        return None
    found: Callable[[bytes], Any] = one.Match
    return found


def _text_search(compiled: Any) -> Search:
    def search(text: str) -> bool:
        try:
            text.encode()
        except UnicodeEncodeError:
            return False
        return compiled.search(text) is not None

    return search


def _reason(reason: str) -> str:
    """RE2's reason without the part of the pattern it quotes (``invalid perl operator: (?=``)."""
    head = reason.split(":", 1)[0].strip() or "not a pattern RE2 can run"
    if head.startswith("invalid perl operator") or head.startswith("invalid escape sequence"):
        return f"{head} (lookaround and backreferences are not supported)"
    if "too large" in reason:
        return f"{head} (the compiled pattern would exceed {MAX_PATTERN_MEMORY >> 20} MiB)"
    return head


#: Keywords whose value is one subschema, a list of them, or a name -> subschema map.
_ONE: tuple[str, ...] = ("additionalProperties", "additionalItems", "contains", "not", "if", "then")
_ONE = (*_ONE, "else", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "items")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems", "items")
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies")


def schema_patterns(schema: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """Each regular expression a validator would run: ``(where, keyword, pattern)``.

    Walks only the keywords whose values jsonschema evaluates as subschemas, so a property
    *named* ``pattern`` is not taken for one."""
    if not isinstance(schema, dict):
        return
    if "pattern" in schema:
        yield where or "/", "pattern", schema["pattern"]
    if schema.get("format") == "regex":
        yield where or "/", "format", None
    for name in (
        schema.get("patternProperties", {}) if isinstance(schema.get("patternProperties"), dict) else ()
    ):
        yield where or "/", "patternProperties", name
    for key in _ONE:
        if isinstance(schema.get(key), dict):
            yield from schema_patterns(schema[key], f"{where}/{key}")
    for key in _LIST:
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                yield from schema_patterns(sub, f"{where}/{key}/{i}")
    for key in _MAP:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                yield from schema_patterns(sub, f"{where}/{key}/{_pointer(name)}")


def _pointer(name: str) -> str:
    return str(name).replace("~", "~0").replace("/", "~1")


def check_schema_patterns(schema: Any) -> None:
    """Refuse a schema with a regular expression RE2 cannot run, or one jsonschema would still
    run through Python's ``re`` (``patternProperties`` beside ``unevaluatedProperties``)."""
    found = list(schema_patterns(schema))
    for where, keyword, pattern in found:
        if keyword == "format":
            continue
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise PatternError(f"{where}: {keyword}: {exc}") from None
    if any(k == "patternProperties" for _, k, _ in found) and _mentions(schema, "unevaluatedProperties"):
        raise PatternError(
            "/: patternProperties together with unevaluatedProperties is not supported "
            "(its patterns would not run in linear time)"
        )


def _mentions(schema: Any, keyword: str) -> bool:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if keyword in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not compile_pattern(patrn)(instance):
        # jsonschema's own words; harness.shapes decides whether a message may show the value
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for patrn, subschema in patterns.items():
        search = compile_pattern(patrn)
        for k, v in instance.items():
            if search(k):
                yield from validator.descend(v, subschema, path=k, schema_path=patrn)


def _additional_properties(validator: Any, aP: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    searches = [compile_pattern(p) for p in schema.get("patternProperties", {})]
    extras = [k for k in instance if k not in properties and not any(s(k) for s in searches)]
    if validator.is_type(aP, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], aP, path=extra)
    elif not aP and extras:
        verb = "was" if len(extras) == 1 else "were"
        names = ", ".join(map(repr, sorted(extras, key=str)))
        yield ValidationError(f"Additional properties are not allowed ({names} {verb} unexpected)")


def _is_regex(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        compile_pattern(instance)
    except PatternError:
        return False
    return True


@functools.cache
def _extended(base: type[Any]) -> type[Any]:
    checker = jsonschema.FormatChecker(formats=())
    for name, (func, raises) in base.FORMAT_CHECKER.checkers.items():
        checker.checkers[name] = (func, raises)
    checker.checkers["regex"] = (_is_regex, ())
    keywords = {"pattern": _pattern, "patternProperties": _pattern_properties}
    if "additionalProperties" in base.VALIDATORS:
        keywords["additionalProperties"] = _additional_properties
    cls: type[Any] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        base, keywords, format_checker=checker
    )
    return cls


def validator_class(schema: Any) -> type[Any]:
    """The jsonschema validator class for ``schema`` (2020-12 unless it says otherwise), with its
    regular expressions run by RE2. Build it with ``format_checker=cls.FORMAT_CHECKER``."""
    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return _extended(base)
