"""Packaged JSON Schemas (Draft 2020-12): one cached validator per schema, and one way to name
where a document breaks it."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource


def load_package_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``harness/schemas`` (a fresh copy: callers may change it)."""
    text = resources.files("harness.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def package_validator(name: str, shared: tuple[str, ...] = ()) -> jsonschema.Draft202012Validator:
    """A validator for ``harness/schemas/<name>``, built once; its ``$ref``s may name the ``$id``
    of the ``shared`` packaged schemas."""
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in map(load_package_schema, shared)
    )
    return jsonschema.Draft202012Validator(load_package_schema(name), registry=registry)


def best_error(validator: jsonschema.Draft202012Validator, data: Any) -> jsonschema.ValidationError | None:
    """The most relevant error (jsonschema's ``best_match``), or None when ``data`` is valid."""
    error: jsonschema.ValidationError | None = jsonschema.exceptions.best_match(validator.iter_errors(data))
    return error


def error_path(error: jsonschema.ValidationError, sep: str = "/") -> str:
    """Where in the document ``error`` is: ``a/b/0``, or ``(top level)``."""
    return sep.join(str(p) for p in error.absolute_path) or "(top level)"
