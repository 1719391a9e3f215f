"""Saying what is wrong without echoing a value.

No message, finding, log line, SARIF result or evidence field may hold a record value or a
configuration value that could be a secret. :func:`shape` describes a value by its type and size
(``str, 147 chars``); :func:`safe_literal` shows a configuration value only when it is a short plain
identifier the secret scanner has nothing to say about; :func:`describe_schema_error` turns a
JSON Schema error into a message built from the schema (trusted) and the value's shape.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jsonschema

from harness.secrets import safe_key, scan_text

#: Characters a configuration value may consist of to be shown as written.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.-")
_MAX_SHOWN = 40


def shape(value: Any) -> str:
    """The type and size of ``value``, never its content: ``str, 147 chars``, ``int``, ``list, 3 items``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return type(value).__name__
    if isinstance(value, str):
        return f"str, {len(value)} chars"
    if isinstance(value, list | tuple):
        return f"list, {len(value)} items"
    if isinstance(value, dict):
        return f"object, {len(value)} keys"
    return type(value).__name__


def _plain(value: Any, depth: int = 0) -> bool:
    """A value that cannot be a secret: null, a boolean, a number, a short plain identifier, or a
    small list of those."""
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        return len(value) <= _MAX_SHOWN and set(value) <= _PLAIN and scan_text(value) is None
    if isinstance(value, list) and depth == 0:
        return len(value) <= 8 and all(_plain(v, 1) for v in value)
    return False


def safe_literal(value: Any) -> str:
    """``repr(value)`` when it is plainly not a secret, else its shape (``value withheld: …``)."""
    return repr(value) if _plain(value) else f"(value withheld: {shape(value)})"


def path_text(parts: Iterable[Any], root: str | None = None) -> str:
    """A document location as a dotted path with ``[i]`` for items; keys that look like secrets are
    shown as ``<key>``, over-long keys by their length (``(top level)`` when empty)."""
    text = root or ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = safe_key(str(part))
            text += f".{key}" if text else key
    return text or "(top level)"


def _unexpected(error: jsonschema.ValidationError) -> list[str]:
    instance, schema = error.instance, error.schema
    if not isinstance(instance, dict) or not isinstance(schema, dict):
        return []
    known = set(schema.get("properties", {}))
    return [path_text([k]) for k in instance if k not in known]


def describe_schema_error(error: jsonschema.ValidationError, *, show_values: bool) -> str:
    """What ``error`` says, without the value unless ``show_values`` and it is plainly not a secret.

    Records use ``show_values=False`` (never a value); configuration files ``True`` (a plain
    identifier such as ``'gcs' is not one of [...]`` helps, a DSN or token is withheld)."""
    keyword, instance = error.validator, error.instance
    expected: Any = error.validator_value
    if keyword == "additionalProperties" and expected is False:
        names = _unexpected(error)
        verb = "was" if len(names) == 1 else "were"
        listed = ", ".join(repr(n) for n in names) or "?"
        return f"Additional properties are not allowed ({listed} {verb} unexpected)"
    if keyword == "required":
        return error.message  # names the required property, from the schema
    if show_values and _plain(instance):
        return error.message if len(error.message) <= 300 else error.message[:300] + "…"
    what = shape(instance)
    if keyword is None:  # a `false` schema
        return f"({what}) is not allowed here (the schema admits no value)"
    if keyword == "type":
        return f"has type {what}, expected {expected!r}"
    if keyword in ("enum", "const"):
        return f"({what}) is not one of the allowed values"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return f"({what}) fails {keyword} {expected!r}"
    if keyword in ("pattern", "format", "minLength", "maxLength", "minItems", "maxItems"):
        return f"({what}) fails {keyword} {expected!r}"
    return f"({what}) fails '{keyword}'"
