"""The fast schema pre-check must agree with jsonschema on every record it is asked about."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from harness.fastschema import compile_schema
from harness.portable.contract import Contract
from harness.portable.export import ExportResult
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
    expected = jsonschema.Draft202012Validator(schema).is_valid(record)
    assert fast(record) is expected or bool(fast(record)) == expected, (schema, record)


def test_reference_schemas_compile_and_agree_on_mutations(
    contract: Contract, reference_export: ExportResult
) -> None:
    checked = 0
    for ent in contract.entities:
        fast = ent.fast_check
        assert fast is not None, f"{ent.name}: reference schemas use only the fast subset"
        validator = jsonschema.Draft202012Validator(ent.schema)
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
    for probe in [
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
    ]:
        _agree(schema, probe)


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
