"""A contract's regular expressions run in linear time (RE2), mean what ECMA-262 says, and a
pattern RE2 cannot run is refused when the contract loads, never skipped or run by Python's ``re``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import re2
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import schema_patterns as patterns_module
from harness.errors import ConfigError
from harness.fastschema import compile_schema
from harness.portable.contract import load_contract
from harness.portable.validate.validator import validate_export
from harness.schema_patterns import (
    PatternError,
    _byte_search,
    _text_search,
    check_schema_patterns,
    compile_pattern,
    schema_patterns,
    validator_class,
)
from tests.helpers import write_items_export

#: Patterns Python's backtracking ``re`` takes exponential or polynomial time on (ReDoS).
EVIL = ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "(.*a){12}$", "^([a-z]+)*[0-9]$", "^(\\w+\\s?)+$"]
MEGABYTE = "a" * (1 << 20) + "!"


def _contract_doc(pattern: str) -> dict[str, Any]:
    """A one-entity contract whose ``name`` field must match ``pattern``."""
    fields = {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"], "pattern": pattern},
        "digest": {"type": ["string", "null"], "pattern": "^[0-9a-f]{8}$"},
    }
    schema = {"type": "object", "additionalProperties": False, "required": ["id"], "properties": fields}
    entity = {"name": "items", "source": {"table": "items"}, "primary_key": "id", "schema": schema}
    return {"contract_version": 1, "name": "patterns", "schema_version": "1", "entities": [entity]}


def _export(root: Path, records: list[dict[str, Any]]) -> Path:
    return write_items_export(root, [json.dumps(r).encode() for r in records], source="test")


def _contract(tmp_path: Path, pattern: str) -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(_contract_doc(pattern)))
    return path


def _schema_findings(tmp_path: Path, pattern: str, records: list[dict[str, Any]]) -> list[Any]:
    contract = load_contract(_contract(tmp_path, pattern))
    report = validate_export(contract, _export(tmp_path / "export", records), workers=1)
    return [f for f in report.findings if f.rule == "record.schema"]


@pytest.mark.parametrize("pattern", EVIL)
def test_a_backtracking_pattern_on_a_megabyte_value_takes_linear_time(tmp_path: Path, pattern: str) -> None:
    """Each of these takes Python's ``re`` hours on a megabyte of ``a``s; RE2 milliseconds."""
    started = time.monotonic()
    findings = _schema_findings(tmp_path, pattern, [{"id": 1, "name": MEGABYTE, "digest": None}])
    assert time.monotonic() - started < 20  # generous: linear time is well under a second
    expected = not re2.compile(pattern).search(MEGABYTE)
    assert bool(findings) is expected
    for finding in findings:
        assert finding.field == "name" and "a" * 20 not in str(finding.to_dict())


@pytest.mark.parametrize("pattern", EVIL)
def test_every_path_to_a_pattern_is_linear(pattern: str) -> None:
    """The fast pre-check (closure and generated forms) and jsonschema with the RE2 keywords."""
    schemas = [
        {"type": "string", "pattern": pattern},
        {"type": "object", "properties": {"v": {"type": "string", "pattern": pattern}}},
        {"type": "object", "patternProperties": {pattern: {"type": "integer"}}},
        {"type": "object", "propertyNames": {"pattern": pattern}},
        {"type": "object", "additionalProperties": False, "patternProperties": {pattern: {}}},
    ]
    for schema in schemas:
        value: Any = MEGABYTE if schema.get("type") == "string" else {"v": MEGABYTE, MEGABYTE: "x"}
        started = time.monotonic()
        validator_class(schema)(schema).is_valid(value)
        fast = compile_schema(schema)
        if fast is not None:
            fast(value)
        assert time.monotonic() - started < 10, schema


def test_dollar_is_the_end_of_the_text_not_before_a_final_newline(tmp_path: Path) -> None:
    """Python's ``re`` takes ``^[0-9a-f]{8}$`` for ``'deadbeef\\n'``: a false PASS of a digest."""
    records = [
        {"id": 1, "name": None, "digest": "deadbeef"},
        {"id": 2, "name": None, "digest": "deadbeef\n"},
    ]
    findings = _schema_findings(tmp_path, "^[a-z]*$", records)
    assert [(f.record_id, f.field) for f in findings] == [("2", "digest")]
    assert "deadbeef" not in str([f.to_dict() for f in findings])


def test_word_characters_of_property_names_are_ascii() -> None:
    schema = {"patternProperties": {"^\\w+$": {"type": "integer"}}, "additionalProperties": False}
    validator = validator_class(schema)(schema)
    assert validator.is_valid({"a_1": 1})
    assert not validator.is_valid({"\u00e9": 1})  # Python's re calls it a word character


@pytest.mark.parametrize(
    ("value", "valid"),
    [("7", True), ("\u0663", False), ("\uff17", False), ("a", False), ("\ud800", False), ("77", False)],
)
def test_digits_are_ascii_and_a_lone_surrogate_matches_nothing(value: str, valid: bool) -> None:
    schema = {"type": "string", "pattern": "^\\d$"}
    assert validator_class(schema)(schema).is_valid(value) is valid
    fast = compile_schema(schema)
    assert fast is not None and bool(fast(value)) is valid


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("^(?=a)", "lookaround and backreferences are not supported"),
        ("^(?<!a)b", "lookaround and backreferences are not supported"),
        ("(a)\\1", "lookaround and backreferences are not supported"),
        ("(", "missing )"),
        ("[z-a]", "invalid character class range"),
        ("a{1001}", "invalid repetition size"),
        ("((((a{1000}){1000}){1000}){1000})", "invalid repetition size"),
        ("\\pL{1000}" * 20, "exceed 8 MiB"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_load_naming_entity_and_place(
    tmp_path: Path, pattern: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_contract(_contract(tmp_path, pattern))
    message = str(caught.value)
    assert "entity 'items'" in message and "/properties/name: pattern:" in message
    assert reason in message
    assert pattern not in message.split("contract.yaml", 1)[1]


def test_a_huge_program_is_refused_not_run_slowly() -> None:
    with pytest.raises(PatternError, match="exceed 8 MiB"):
        compile_pattern("\\pL{1000}" * 20)


def test_pattern_properties_with_unevaluated_properties_is_refused() -> None:
    schema = {"patternProperties": {"^a": {}}, "allOf": [{"unevaluatedProperties": False}]}
    with pytest.raises(PatternError, match="unevaluatedProperties"):
        check_schema_patterns(schema)
    check_schema_patterns({"patternProperties": {"^a": {}}})
    check_schema_patterns({"unevaluatedProperties": False})


def test_the_walker_finds_patterns_where_jsonschema_evaluates_them_only() -> None:
    schema = {
        "properties": {
            "pattern": {"type": "string"},  # a property named pattern is not a pattern
            "a/b": {"items": {"pattern": "i"}},
            "c": {"anyOf": [{"pattern": "x"}, {"not": {"pattern": "n"}}]},
        },
        "$defs": {"d": {"patternProperties": {"^p": {"pattern": "q"}}}},
        "examples": [{"pattern": "("}],  # an annotation: never evaluated
        "format": "regex",
    }
    assert sorted(schema_patterns(schema)) == sorted(
        [
            ("/", "format", None),
            ("/properties/a~1b/items", "pattern", "i"),
            ("/properties/c/anyOf/0", "pattern", "x"),
            ("/properties/c/anyOf/1/not", "pattern", "n"),
            ("/$defs/d", "patternProperties", "^p"),
            ("/$defs/d/patternProperties/^p", "pattern", "q"),
        ]
    )
    check_schema_patterns(schema)


def test_the_regex_format_is_checked_by_re2_and_deep_nesting_is_no_crash() -> None:
    """jsonschema's own check compiles with ``re``, which overflows the stack on deep nesting."""
    schema = {"type": "string", "format": "regex"}
    cls = validator_class(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    assert validator.is_valid("^[a-z]+$")
    assert not validator.is_valid("^(?=a)")
    validator.is_valid("(" * 100_000 + ")" * 100_000)  # answers, whatever RE2 says of it


def test_a_contract_pattern_nested_deeply_is_no_crash_at_load(tmp_path: Path) -> None:
    """Python's ``re`` raises RecursionError compiling this; RE2 compiles it."""
    contract = load_contract(_contract(tmp_path, "(" * 50_000 + "a" + ")" * 50_000))
    assert contract.entities[0].fast_check is not None


_NAMES = st.text(alphabet="ab_1\u00e9", max_size=4)
# No \w, \d or \s: those are ASCII in RE2 (and ECMA-262) but not in Python's re.
_PATTERNS = st.sampled_from(["^a", "b$", "^[ab]+$", "_", "^[_a-z0-9]+$", "1", ".", "^$", "\u00e9"])


@settings(max_examples=400, deadline=None)
@given(
    patterns=st.dictionaries(_PATTERNS, st.sampled_from([{}, {"type": "integer"}, False]), max_size=3),
    props=st.dictionaries(st.sampled_from(["a", "b1"]), st.just({"type": "string"}), max_size=2),
    additional=st.sampled_from([True, False, {"type": "string"}]),
    instance=st.dictionaries(_NAMES, st.one_of(st.integers(0, 2), st.sampled_from(["s", ""])), max_size=4),
)
def test_pattern_and_additional_properties_agree_with_jsonschema(
    patterns: dict[str, Any], props: dict[str, Any], additional: Any, instance: dict[str, Any]
) -> None:
    """On names and patterns where RE2 and ``re`` mean the same, the answers and the places of the
    errors are jsonschema's own."""
    schema = {"properties": props, "patternProperties": patterns, "additionalProperties": additional}
    ours = validator_class(schema)(schema)
    stock = jsonschema.Draft202012Validator(schema)
    assert ours.is_valid(instance) == stock.is_valid(instance)
    where = sorted((str(list(e.absolute_path)), str(e.validator)) for e in ours.iter_errors(instance))
    assert where == sorted(
        (str(list(e.absolute_path)), str(e.validator)) for e in stock.iter_errors(instance)
    )


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.sampled_from(["^a", "b$", "^[ab]*$", "\u00e9.", "^.{2}$", "\\d", "^\\S+$", "(?i)A"]),
    text=st.text(max_size=6),
)
def test_the_byte_search_agrees_with_re2s_public_search(pattern: str, text: str) -> None:
    compiled = re2.compile(pattern)
    fast = _byte_search(compiled)
    assert fast is not None, "this google-re2 no longer has the internals; the public path is used"
    assert fast(text) == _text_search(compiled)(text) == (compiled.search(text) is not None)


def test_packaged_schemas_check_untrusted_documents_with_re2(tmp_path: Path) -> None:
    """A manifest's checksum with a final newline broke ``^sha256:[0-9a-f]{64}$`` only in RE2."""
    from harness.schema_check import package_validator

    export = _export(tmp_path / "export", [{"id": 1, "name": None, "digest": None}])
    manifest = json.loads((export / "manifest.json").read_text())
    validator = package_validator("manifest.schema.json")
    assert validator.is_valid(manifest)
    manifest["checksums"]["items.jsonl"] += "\n"
    errors = list(validator.iter_errors(manifest))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [
        (["checksums", "items.jsonl"], "pattern")
    ]


def test_messages_are_jsonschemas_own() -> None:
    """``harness.shapes.describe_schema_error`` decides what of them a finding may show."""
    schema = {"properties": {"a": {"pattern": "^x$"}}, "additionalProperties": False}
    ours = validator_class(schema)(schema)
    stock = jsonschema.Draft202012Validator(schema)
    for instance in ({"a": "secret-value"}, {"b": 1}, {"c": 1, "b": 2, "a": "x"}):
        assert [e.message for e in ours.iter_errors(instance)] == [
            e.message for e in stock.iter_errors(instance)
        ]
    assert [e.message for e in ours.iter_errors({"a": "v"})] == ["'v' does not match '^x$'"]
    assert [e.message for e in ours.iter_errors({"c": 1, "b": 2})] == [
        "Additional properties are not allowed ('b', 'c' were unexpected)"
    ]


def test_pattern_property_errors_point_into_the_schema_as_jsonschema_does() -> None:
    schema = {"patternProperties": {"^a": {"type": "integer"}}}
    ours = validator_class(schema)(schema)
    stock = jsonschema.Draft202012Validator(schema)
    instance = {"ab": "s", "b": "s"}
    assert (
        [list(e.schema_path) for e in ours.iter_errors(instance)]
        == [list(e.schema_path) for e in stock.iter_errors(instance)]
        == [["patternProperties", "^a", "type"]]
    )


def test_refusal_reasons_never_quote_the_pattern() -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern("(a:b")
    assert str(caught.value) == "missing )"
    with pytest.raises(PatternError) as caught:
        compile_pattern("x(?=a:b)")
    assert str(caught.value) == "invalid perl operator (lookaround and backreferences are not supported)"
    with pytest.raises(PatternError, match=r"^a pattern must be a string$"):
        compile_pattern(5)  # type: ignore[arg-type]
    from harness.schema_patterns import _reason

    assert _reason("") == "not a pattern RE2 can run"
    assert _reason("pattern too large - compile failed") == (
        "pattern too large - compile failed (the compiled pattern would exceed 8 MiB)"
    )


def test_the_walker_at_the_root_and_on_malformed_keywords() -> None:
    assert list(schema_patterns({"pattern": "a", "patternProperties": {"^b": {}}})) == [
        ("/", "pattern", "a"),
        ("/", "patternProperties", "^b"),
    ]
    assert list(schema_patterns({"patternProperties": ["x"], "properties": ["y"], "allOf": {}})) == []
    assert list(schema_patterns({"properties": {"a~b/c": {"pattern": "p"}}})) == [
        ("/properties/a~0b~1c", "pattern", "p")
    ]


def test_a_bad_pattern_after_a_regex_format_is_still_refused() -> None:
    with pytest.raises(PatternError, match=r"^/properties/a: pattern: missing \)$"):
        check_schema_patterns({"format": "regex", "properties": {"a": {"pattern": "("}}})
    with pytest.raises(PatternError) as caught:
        check_schema_patterns({"patternProperties": {"^a": {}}, "unevaluatedProperties": False})
    assert str(caught.value) == (
        "/: patternProperties together with unevaluatedProperties is not supported "
        "(its patterns would not run in linear time)"
    )


def test_the_regex_format_passes_what_is_not_a_string() -> None:
    schema = {"format": "regex"}
    cls = validator_class(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    assert validator.is_valid(5) and validator.is_valid(None)
    assert not validator.is_valid("(")


def test_lone_surrogates_match_nothing_on_both_search_paths() -> None:
    compiled = re2.compile(".")
    fast = _byte_search(compiled)
    assert fast is not None
    assert fast("\ud800") is False and _text_search(compiled)("\ud800") is False
    assert fast("x") is True and _text_search(compiled)("x") is True


@pytest.mark.parametrize("internal", ["_NULL_SPAN", "_Anchor"])
def test_without_re2s_internals_the_public_search_is_used(
    internal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = re2.compile("^a")
    monkeypatch.delattr(re2, internal)
    assert _byte_search(compiled) is None
    monkeypatch.undo()
    assert _byte_search(object()) is None  # a compiled pattern without the RE2 object
    assert _byte_search(compiled) is not None


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.sampled_from(["^a", "b$", "^[ab]*$", "\u00e9.", "^.{2}$", "\\d", "^\\S+$", "(?i)A"]),
    text=st.text(max_size=6),
)
def test_a_set_that_says_no_is_asked_again(pattern: str, text: str) -> None:
    """The byte search takes a one-pattern RE2 set's "yes" and asks ``Match`` after its "no" (a DFA
    out of memory also says no): with a set that always says no, the answers are the same."""
    compiled = re2.compile(pattern)
    assert patterns_module._set_match(compiled, re2._Anchor.UNANCHORED) is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(patterns_module, "_set_match", lambda compiled, anchor: lambda data: [])
        doubted = _byte_search(compiled)
    assert doubted is not None
    assert doubted(text) == (compiled.search(text) is not None)


def test_without_re2_sets_the_byte_search_still_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = re2.compile("^a+$")
    monkeypatch.delattr(re2._re2, "Set")
    assert patterns_module._set_match(compiled, re2._Anchor.UNANCHORED) is None
    search = _byte_search(compiled)
    assert search is not None and search("aaa") is True and search("ab") is False
