"""The validation rule catalogue: every rule id is produced by a planted defect, and the
catalogue agrees with the rule functions that report it."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.portable.contract import Contract
from harness.portable.validate import rules as registry
from harness.portable.validate.rules.catalogue import FAMILIES, RULES, produces
from harness.portable.validate.validator import Validator, validate_export
from tests.helpers import edit_record, rewrite_bytes, rewrite_lines, rules

SECRET = "$2b$12$" + "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def _manifest(export: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = export / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _edit(file: str, index: int, **values: object) -> Callable[[Path], object]:
    return lambda export: edit_record(export, file, index, lambda r: r.update(values))


def _bytes(file: str, change: Callable[[bytes], bytes]) -> Callable[[Path], object]:
    return lambda export: rewrite_bytes(export, file, change)


def _first_line(file: str, change: Callable[[bytes], bytes]) -> Callable[[Path], object]:
    def apply(data: bytes) -> bytes:
        first, rest = data.split(b"\n", 1)
        return change(first) + b"\n" + rest

    return _bytes(file, apply)


def _nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(levels):
        value = {"x": value}
    return value


def _raw_manifest(export: Path, change: Callable[[str], str]) -> None:
    path = export / "manifest.json"
    path.write_text(change(path.read_text()))


def _symlink(export: Path) -> None:
    (export / "linked.jsonl").symlink_to("/etc/hostname")


def _append(file: str, line: Callable[[list[bytes]], bytes]) -> Callable[[Path], object]:
    return lambda export: rewrite_lines(export, file, lambda lines: [*lines, line(lines)])


# rule id -> (plant the defect in a copy of the reference export, other rules it also breaks)
CASES: dict[str, tuple[Callable[[Path], object], set[str]]] = {
    "manifest.missing": (lambda d: (d / "manifest.json").unlink(), set()),
    "manifest.json": (lambda d: (d / "manifest.json").write_text("{"), set()),
    # The manifest still serves the checks its well-formed parts allow: no checksums, no file verified.
    "manifest.schema": (lambda d: _manifest(d, lambda m: m.pop("checksums")), {"file.checksum"}),
    "manifest.schema_version": (lambda d: _manifest(d, lambda m: m.update(schema_version="1999-01")), set()),
    "manifest.entities": (
        lambda d: _manifest(d, lambda m: m["entity_files"].update(ghosts="ghosts.jsonl")),
        {"manifest.counts"},
    ),
    "manifest.omitted": (lambda d: _manifest(d, lambda m: m.update(omitted_entities=[])), set()),
    "manifest.duplicate_key": (
        lambda d: _raw_manifest(d, lambda t: '{"source_stack": "decoy",' + t.lstrip()[1:]),
        set(),
    ),
    "manifest.generated_at": (
        lambda d: _manifest(d, lambda m: m.update(generated_at="2025-13-01T00:00:00Z")),
        set(),
    ),
    "manifest.counts": (lambda d: _manifest(d, lambda m: m["entity_counts"].pop("tasks")), set()),
    "manifest.checksums": (
        lambda d: _manifest(d, lambda m: m["checksums"].update({"ghosts.jsonl": "sha256:" + "0" * 64})),
        set(),
    ),
    "manifest.contract": (lambda d: _manifest(d, lambda m: m["contract"].update(name="another-app")), set()),
    "manifest.contract_version": (
        lambda d: _manifest(d, lambda m: m["contract"].update(sha256="sha256:" + "1" * 64)),
        set(),
    ),
    "manifest.secret": (lambda d: _manifest(d, lambda m: m.update(source_stack=GITHUB)), set()),
    "file.not_regular": (_symlink, set()),
    "record.line_ending": (_first_line("tasks.jsonl", lambda line: line + b"\r"), set()),
    "record.whitespace": (_first_line("tasks.jsonl", lambda line: b" " + line), set()),
    "file.final_newline": (_bytes("tasks.jsonl", lambda data: data.rstrip(b"\n")), set()),
    "record.size": (_bytes("cards.jsonl", lambda data: data + b"x" * ((8 << 20) + 1) + b"\n"), set()),
    "record.duplicate_key": (_first_line("tasks.jsonl", lambda line: b'{"title":"decoy",' + line[1:]), set()),
    "record.nul": (_edit("cards.jsonl", 0, body="before\x00after"), set()),
    "record.depth": (_edit("notifications.jsonl", 0, payload=_nested(40)), set()),
    "type.integer": (_edit("tasks.jsonl", 1, priority=2.0), set()),
    "type.column": (_edit("files.jsonl", 0, id="not-a-uuid"), {"record.schema", "relationship.dangling"}),
    "file.missing": (lambda d: (d / "notifications.jsonl").unlink(), set()),
    "file.unexpected": (lambda d: (d / "extra.jsonl").write_text("{}\n"), set()),
    "file.checksum": (
        lambda d: _manifest(d, lambda m: m["checksums"].update({"tasks.jsonl": "sha256:" + "0" * 64})),
        set(),
    ),
    "count.mismatch": (lambda d: _manifest(d, lambda m: m["entity_counts"].update(tasks=1)), set()),
    "record.utf8": (_append("cards.jsonl", lambda lines: b"\xff\xfe"), set()),
    "record.json": (_append("cards.jsonl", lambda lines: b"[1, 2]"), set()),
    "record.schema": (_edit("tasks.jsonl", 1, priority="high"), set()),
    "record.primary_key": (_edit("audit_events.jsonl", 0, id=None), {"record.schema"}),
    "record.duplicate_id": (_append("templates.jsonl", lambda lines: lines[0]), set()),
    "relationship.dangling": (_edit("tasks.jsonl", 0, owner_id=999_999_999), set()),
    "relationship.at_least_one_of": (_edit("files.jsonl", 0, task_id=None, card_id=None), set()),
    "enum.unknown": (_edit("cards.jsonl", 2, lane="limbo"), set()),
    "timestamp.unparseable": (_edit("users.jsonl", 0, created_at="2025-01-01 10:00:00"), set()),
    "redaction.field_present": (_edit("users.jsonl", 0, api_key=None), {"record.schema"}),
    "redaction.secret": (_edit("cards.jsonl", 0, body=f"old login {SECRET}"), set()),
}


# Rules only a version-2 contract can express; tests/test_foreign_exports.py plants each of them.
V2_ONLY = {"record.duplicate_unique", "rule.*"}


@pytest.mark.parametrize("rule_id", sorted(set(RULES) - V2_ONLY))
def test_every_rule_is_produced_by_a_planted_defect(
    contract: Contract, export_copy: Path, rule_id: str
) -> None:
    plant, also = CASES[rule_id]
    plant(export_copy)
    assert rules(validate_export(contract, export_copy)) == {rule_id} | also


def test_cases_name_only_catalogued_rules() -> None:
    assert set(CASES) | V2_ONLY == set(RULES)
    assert not set(CASES) & V2_ONLY


def _rule_functions() -> dict[str, tuple[str, Callable[..., Any]]]:
    """Every function marked with ``@produces`` in a family module: name -> (family, function)."""
    found = {}
    for family in FAMILIES:
        module = importlib.import_module(f"{registry.__name__}.{family}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and hasattr(fn, "rule_ids"):
                found[f"{family}.{name}"] = (family, fn)
    return found


def test_catalogue_and_rule_functions_agree() -> None:
    functions = _rule_functions()
    produced = {rule_id for _, fn in functions.values() for rule_id in fn.rule_ids}
    assert produced == set(RULES), "every catalogued rule is reported by a marked function"
    for where, (family, fn) in functions.items():
        ids = set(fn.rule_ids)
        assert {RULES[i].family for i in ids} == {family}, f"{where} reports rules of another family"
        quoted = set(re.findall(r'"([a-z_]+\.[a-z_0-9]+)"', inspect.getsource(fn))) & set(RULES)
        quoted |= ids & {"rule.*"}  # contract rules report under their own ids, rule.<id>
        assert quoted == ids, f"{where} reports {sorted(quoted)} but is marked {sorted(ids)}"
    for rule in RULES.values():
        assert rule.family in FAMILIES and rule.severity in ("error", "warning", "note")
        assert rule.summary.endswith(".") and "\n" not in rule.summary


def test_registered_rules_are_marked() -> None:
    for fn in (*registry.MANIFEST_RULES, *registry.RECORD_RULES, *registry.INDEX_RULES):
        assert getattr(fn, "rule_ids", None), fn


def test_an_unknown_rule_id_is_a_programming_error(contract: Contract, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="not in the catalogue"):
        Validator(contract, tmp_path).context.finding("record.nonsense", "x.jsonl", "never")
    with pytest.raises(KeyError, match="not in the catalogue"):
        produces("record.nonsense")
