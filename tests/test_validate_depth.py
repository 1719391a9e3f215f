"""Depth on the validator's fast path: a record the entity's schema passes skips the bracket count
only when the schema itself bounds nesting within ``max_depth`` (``reader.nesting_bound``).

The bound is checked for soundness against jsonschema (the authority) on schemas of the compiled
subset and on values both generated from them and arbitrary; the validator is checked end to end
on each side of the bound."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.fastschema import compile_schema
from harness.portable.contract import load_contract
from harness.portable.validate.rules.reader import depth, nesting_bound
from harness.portable.validate.validator import validate_export
from tests.helpers import write_items_export

_SCALAR_TYPES = ["string", "integer", "number", "boolean", "null"]
_NAMES = st.sampled_from(["a", "b", "c"])


def _schemas() -> st.SearchStrategy[Any]:
    """Schemas of the subset fastschema compiles, nesting arrays and objects (and a few it does
    not bound: ``true``, ``{}``, open objects, arrays without ``items``)."""
    leaf = st.one_of(
        st.sampled_from(_SCALAR_TYPES).map(lambda t: {"type": t}),
        st.lists(st.sampled_from(_SCALAR_TYPES), min_size=1, max_size=3, unique=True).map(
            lambda t: {"type": t}
        ),
        st.just({"enum": ["x", None]}),
        st.just({"const": "x"}),
        st.just(True),
        st.just({}),
        st.just(False),
        st.just({"type": "array"}),
        st.just({"type": "object"}),
    )

    def extend(child: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        array = st.builds(
            lambda items, nullable: {"type": ["array", "null"] if nullable else "array", "items": items},
            child,
            st.booleans(),
        )
        obj = st.builds(
            lambda props, extra: {"type": "object", "properties": props, "additionalProperties": extra},
            st.dictionaries(_NAMES, child, max_size=3),
            st.one_of(st.just(False), st.just(True), child),
        )
        return st.one_of(array, obj)

    return st.recursive(leaf, extend, max_leaves=8)


_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["x", "y"])),
    lambda child: st.one_of(st.lists(child, max_size=3), st.dictionaries(_NAMES, child, max_size=3)),
    max_leaves=12,
)


def _value_for(schema: Any, draw: Callable[[st.SearchStrategy[Any]], Any], room: int = 6) -> Any:
    """A value ``schema`` may accept, as deep as the schema lets it (arbitrary where it is open)."""
    if schema is True or schema == {} or schema is False:
        return draw(_JSON)
    if "enum" in schema or "const" in schema:
        return "x"
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    kind = draw(st.sampled_from(kinds))
    if kind == "array":
        if "items" not in schema or room == 0:
            return draw(_JSON) if "items" not in schema else []
        return [_value_for(schema["items"], draw, room - 1) for _ in range(draw(st.integers(0, 2)))]
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _value_for(s, draw, room - 1) for k, s in props.items() if room and draw(st.booleans())}
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "null": None}[kind]


@settings(max_examples=1500, deadline=None)
@given(schema=_schemas(), data=st.data())
def test_nothing_a_schema_accepts_nests_deeper_than_its_bound(schema: Any, data: st.DataObject) -> None:
    bound = nesting_bound(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for value in (_value_for(schema, data.draw), data.draw(_JSON)):
        if bound is not None and validator.is_valid(value):
            assert depth(value, 1000) <= bound, (schema, value)
        check = compile_schema(schema)
        if check is not None:
            assert check(value) == validator.is_valid(value)


@pytest.mark.parametrize(
    ("schema", "bound"),
    [
        ({"type": "string"}, 0),
        ({"type": ["integer", "null"]}, 0),
        ({"enum": ["a", None]}, 0),
        ({"const": "a"}, 0),
        ({"type": "array", "items": {"type": "string"}}, 1),
        ({"type": "array", "items": {"type": "array", "items": {"type": "null"}}}, 2),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}, 1),
        ({"type": "object", "additionalProperties": False}, 1),
        ({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}, 2),
        ({"type": ["object", "array"], "items": {"type": "string"}, "additionalProperties": False}, 1),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, None),  # other keys: anything
        ({"type": "object", "properties": {"a": {}}, "additionalProperties": False}, None),
        ({"type": "array"}, None),
        ({"type": "array", "items": True}, None),
        ({"enum": ["a", 1]}, None),  # outside the subset
        ({"type": "string", "format": "date"}, None),  # outside the subset
        ({"$ref": "#/$defs/x"}, None),
        ({"type": "thing"}, None),
        (True, None),
        (False, 0),
    ],
)
def test_the_nesting_bound_of_each_shape(schema: Any, bound: int | None) -> None:
    assert nesting_bound(schema) == bound


def _nested_list(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def _findings(
    tmp_path: Path, schema: dict[str, Any], max_depth: int, records: list[dict[str, Any]]
) -> set[str]:
    entity = {"name": "items", "source": {"table": "items"}, "primary_key": "id", "schema": schema}
    doc = {
        "contract_version": 1,
        "name": "depth",
        "schema_version": "1",
        "entities": [entity],
        "strictness": {"max_depth": max_depth},
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(doc))
    export = write_items_export(tmp_path / "export", [json.dumps(r).encode() for r in records], source="t")
    report = validate_export(load_contract(path), export, workers=1)
    return {f"{f.line}:{f.rule}" for f in report.findings}


def _object(**props: Any) -> dict[str, Any]:
    fields = {"id": {"type": "integer"}, **props}
    return {"type": "object", "additionalProperties": False, "required": ["id"], "properties": fields}


_LISTS = _object(m={"type": "array", "items": {"type": "array", "items": {"type": "string"}}})  # bound 3


@pytest.mark.parametrize(
    ("schema", "max_depth", "records", "expected"),
    [
        # The schema bounds nesting within max_depth: a record it passes needs no count, one nested
        # deeper fails it and is counted.
        (_LISTS, 3, [{"id": 1, "m": [["x"]]}], set()),
        (_LISTS, 3, [{"id": 1, "m": [[["x"]]]}], {"1:record.depth"}),
        (_LISTS, 3, [{"id": 1, "m": _nested_list(40)}], {"1:record.depth"}),
        # The schema allows deeper than max_depth: a record it passes is still counted.
        (_LISTS, 2, [{"id": 1, "m": [["x"]]}], {"1:record.depth"}),
        (_LISTS, 2, [{"id": 1, "m": []}, {"id": 2}], set()),
        # Nothing bounds it.
        (_object(m={}), 2, [{"id": 1, "m": [[1]]}], {"1:record.depth"}),
        (_object(m={"type": "object"}), 4, [{"id": 1, "m": {"a": {"b": {"c": {}}}}}], {"1:record.depth"}),
        (_object(m={"type": "object"}), 4, [{"id": 1, "m": {"a": {"b": 1}}}], set()),
    ],
)
def test_depth_is_counted_whenever_the_schema_does_not_settle_it(
    tmp_path: Path, schema: dict[str, Any], max_depth: int, records: list[dict[str, Any]], expected: set[str]
) -> None:
    assert _findings(tmp_path, schema, max_depth, records) == expected


def test_every_depth_and_bound_agree_with_counting(tmp_path: Path) -> None:
    """Records 1 to 5 deep under schemas bounding nesting at 2 to 5, with max_depth 2 to 5: a record
    is reported exactly when it nests deeper than max_depth, whether or not the schema admits it."""
    for levels, max_depth in itertools.product(range(2, 6), range(2, 6)):
        schema = _object(m=json.loads(json.dumps(_array_schema(levels))))
        records = [{"id": n, "m": _nested_list(n - 1)} for n in range(1, 7)]
        want = {f"{n}:record.depth" for n in range(1, 7) if n > max_depth}
        found = _findings(tmp_path / f"{levels}-{max_depth}", schema, max_depth, records)
        assert {f for f in found if f.endswith("record.depth")} == want, (levels, max_depth)


def _array_schema(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels - 1):
        schema = {"type": "array", "items": schema}
    return schema
