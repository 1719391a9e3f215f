"""Packaged JSON Schemas (Draft 2020-12): one cached validator per schema, and one way to name
where a document breaks it. The documents they check (scenarios, manifests, evidence) are
untrusted, so their patterns run in RE2 too (``harness.schema_patterns``)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

from harness.schema_patterns import validator_class


def load_package_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``harness/schemas`` (a fresh copy: callers may change it)."""
    text = resources.files("harness.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def package_validator(name: str, shared: tuple[str, ...] = ()) -> jsonschema.protocols.Validator:
    """A validator for ``harness/schemas/<name>``, built once; its ``$ref``s may name the ``$id``
    of the ``shared`` packaged schemas."""
    registry: Registry[Any] = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in map(load_package_schema, shared)
    )
    schema = load_package_schema(name)
    validator: jsonschema.protocols.Validator = validator_class(schema)(schema, registry=registry)
    return validator


def best_error(validator: jsonschema.protocols.Validator, data: Any) -> jsonschema.ValidationError | None:
    """The most relevant error (jsonschema's ``best_match``), or None when ``data`` is valid."""
    error: jsonschema.ValidationError | None = jsonschema.exceptions.best_match(validator.iter_errors(data))
    return error


def error_path(error: jsonschema.ValidationError, sep: str = "/") -> str:
    """Where in the document ``error`` is: ``a/b/0``, or ``(top level)``."""
    return sep.join(str(p) for p in error.absolute_path) or "(top level)"
