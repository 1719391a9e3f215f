"""The fast schema pre-check must agree with jsonschema on every record it is asked about."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.fastschema import compile_schema
from harness.portable.contract import Contract
from harness.portable.export import ExportResult
from harness.schema_patterns import validator_class
from tests.helpers import read_records

PROBES: list[Any] = [
    None,
    "",
    "x",
    "member",
    0,
    -1,
    7,
    1.5,
    2.0,
    True,
    False,
    [],
    [1],
    ["a"],
    {},
    {"a": 1},
    "é" * 300,
]


def _agree(schema: dict[str, Any], record: Any) -> None:
    fast = compile_schema(schema)
    assert fast is not None
    expected = validator_class(schema)(schema).is_valid(record)
    assert fast(record) is expected or bool(fast(record)) == expected, (schema, record)


def test_reference_schemas_compile_and_agree_on_mutations(
    contract: Contract, reference_export: ExportResult
) -> None:
    checked = 0
    for ent in contract.entities:
        fast = ent.fast_check
        assert fast is not None, f"{ent.name}: reference schemas use only the fast subset"
        validator = validator_class(ent.schema)(ent.schema)
        records = read_records(reference_export.directory / ent.file)[:3]
        assert records
        for record in records:
            assert fast(record) and validator.is_valid(record)
            variants = [{**record, "unexpected_field": 1}]
            for key in record:
                variants.append({k: v for k, v in record.items() if k != key})
                variants.extend({**record, key: probe} for probe in PROBES)
            for variant in variants:
                assert bool(fast(variant)) == validator.is_valid(variant), (ent.name, variant)
                checked += 1
    assert checked > 1000


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer"},
        {"type": "number", "minimum": 0, "exclusiveMaximum": 10},
        {"type": ["string", "null"], "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 4},
        {"enum": ["a", "b", None]},
        {"const": "x"},
        {"type": "array", "items": {"type": "integer", "maximum": 5}, "minItems": 1, "maxItems": 2},
        {"type": "object", "required": ["a"], "properties": {"a": {"type": "boolean"}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "properties": {"a": True, "b": False}},
        {"pattern": "b"},  # applies to strings only; anything else passes
    ],
)
def test_each_keyword_agrees(schema: dict[str, Any]) -> None:
    for probe in _KEYWORD_PROBES:
        _agree(schema, probe)


_KEYWORD_PROBES: list[Any] = [
    *PROBES,
    "ab",
    "abcde",
    "xb",
    [1, 2, 3],
    [9],
    {"a": True},
    {"a": "s", "b": 1},
    {"b": "s"},
    10,
    9.99,
    5,
    4.5,
    -0.5,
    {"b": 1},
    {"b": "x"},
    {"b": "ab"},
    {"b": None},
    {"b": 1, "c": 2},
    {"b": "ab", "c": "d"},
    [{"b": "ab"}],
    [{"b": "a"}],
    [{}],
    [{"b": "ab"}, {"c": 1}],
]


@pytest.mark.parametrize(
    "leaf",
    [
        {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]},
        {"type": ["object", "null"], "properties": {"b": {"type": "string"}}, "additionalProperties": False},
        {"type": "object", "additionalProperties": {"type": "integer"}},
        {"required": ["b"]},  # no type: only objects need "b"
        {
            "type": "array",
            "items": {"type": "object", "properties": {"b": {"minLength": 2}}, "required": ["b"]},
        },
        {"type": "string", "minLength": 2},
        {"type": "string", "maxLength": 2},
        {"type": "string", "pattern": "^a"},
        {"type": ["string", "null"], "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 4},
        {"minLength": 2, "maxLength": 3, "pattern": "b"},  # no type: other values pass
        {"type": "integer", "minimum": 0, "maximum": 5},
        {"type": "number", "minimum": 0.5, "maximum": 9.99},
        {"minimum": 0, "maximum": 5},
        {"type": ["integer", "null"]},
        {"type": "boolean"},
        {"enum": ["a", "b", None]},
        {"type": "string", "enum": ["ab", "member"]},
        {"description": "annotation only"},
    ],
)
def test_each_inline_keyword_agrees_inside_a_generated_object(leaf: dict[str, Any]) -> None:
    """The generated function writes these keywords inline (nested objects and arrays of objects go
    through the closures): one property, every probe, so a record is valid or not by it alone."""
    schema = {"type": "object", "properties": {"a": leaf}, "required": ["a"], "additionalProperties": False}
    fast = compile_schema(schema)
    assert fast is not None and fast.__name__ == "check"
    for probe in _KEYWORD_PROBES:
        _agree(schema, {"a": probe})
    _agree(schema, {})
    _agree(schema, {"a": "ab", "b": 1})


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/x", "$defs": {"x": {}}},
        {"anyOf": [{"type": "string"}]},
        {"type": "string", "format": "date-time"},
        {"enum": [1, True]},
        {"type": "object", "patternProperties": {"^a": {}}},
        {"type": "array", "prefixItems": [{}]},
        {"type": "array", "uniqueItems": True},
        {"type": "widget"},
        {"properties": {"a": {"oneOf": [{}]}}},
    ],
)
def test_schemas_outside_the_subset_are_left_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_schema(schema) is None


_LEAF_SCHEMAS = st.one_of(
    st.just(True),
    st.just(False),
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(
                ["string", "integer", "number", "boolean", "null", "array", "object", ["integer", "null"]]
            ),
            "enum": st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "member"])), max_size=3),
            "pattern": st.sampled_from(["^a", "b$", "^[a-z]{1,2}$", ":", r"^\d$", "^.$"]),
            "minLength": st.integers(0, 3),
            "maxLength": st.integers(0, 3),
            "minimum": st.one_of(st.integers(-3, 3), st.floats(-3, 3)),
            "maximum": st.one_of(st.integers(-3, 3), st.floats(-3, 3)),
            "items": st.just({"type": "integer"}),
            "description": st.just("annotation"),
        },
    ),
)
_OBJECT_SCHEMAS = st.fixed_dictionaries(
    {"properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), _LEAF_SCHEMAS, max_size=3)},
    optional={
        "type": st.sampled_from(["object", ["object", "null"], "string"]),
        "required": st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3),
        "additionalProperties": st.one_of(st.booleans(), st.just({"type": "string"})),
    },
)
_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.floats(-5, 5),
        st.just(2.0),
        st.sampled_from(
            ["", "a", "b", "ab", "ba", ":", "member", "long string", "b\n", "7", "\u0663", "\ud800"]
        ),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), inner),
    max_leaves=8,
)
# Mostly objects with the schemas' own keys, so every property's tests are reached.
_RECORDS = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), _VALUES, max_size=4)


@settings(max_examples=1500, deadline=None)
@given(schema=_OBJECT_SCHEMAS, value=st.one_of(_RECORDS, _RECORDS, _RECORDS, _VALUES))
def test_generated_object_checks_agree_with_jsonschema(schema: dict[str, Any], value: Any) -> None:
    """Object schemas become one generated function; it must say what jsonschema says."""
    fast = compile_schema(schema)
    assert fast is not None
    assert fast.__name__ == "check"  # the generated function, not the closures
    assert bool(fast(value)) == validator_class(schema)(schema).is_valid(value), (schema, value)


@pytest.mark.parametrize(
    ("draft", "compiled"),
    [
        ("http://json-schema.org/draft-03/schema#", False),
        ("http://json-schema.org/draft-04/schema#", False),
        ("http://json-schema.org/draft-06/schema#", True),
        ("http://json-schema.org/draft-07/schema#", True),
        ("https://json-schema.org/draft/2019-09/schema", True),
        ("https://json-schema.org/draft/2020-12/schema", True),
    ],
)
def test_drafts_that_read_the_subset_otherwise_are_left_to_jsonschema(draft: str, compiled: bool) -> None:
    """Drafts 3 and 4 take no ``2.0`` as an integer: a predicate written for 2020-12 would pass it."""
    schema = {"$schema": draft, "type": "object", "properties": {"a": {"type": "integer"}}}
    fast = compile_schema(schema)
    assert (fast is not None) is compiled
    if fast is not None:
        validator = jsonschema.validators.validator_for(schema)(schema)
        for probe in ({"a": 2.0}, {"a": 2}, {"a": "2"}):
            assert bool(fast(probe)) == validator.is_valid(probe)
