"""A record rule that says a block gives it nothing to check is skipped for that block's records
(``EntityContext.idle_when``): the secret rule, once the block pre-filter flags no line. Skipping
must change no finding: secrets in some blocks of many are all found, on their lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.portable.contract import load_contract
from harness.portable.validate import lines as lines_module
from harness.portable.validate.rules import secrets as secret_rules
from harness.portable.validate.validator import validate_export
from tests.helpers import write_items_export

_SCHEMA = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}


def _validate(tmp_path: Path, notes: dict[int, str], count: int = 60) -> list[tuple[str, int | None]]:
    entity = {"name": "items", "source": {"table": "items"}, "primary_key": "id", "schema": _SCHEMA}
    doc = {"contract_version": 1, "name": "idle", "schema_version": "1", "entities": [entity]}
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(doc))
    records = [{"id": n, "note": notes.get(n, f"fine {n}")} for n in range(1, count + 1)]
    export = write_items_export(tmp_path / "export", [json.dumps(r).encode() for r in records], source="t")
    report = validate_export(load_contract(tmp_path / "contract.yaml"), export, workers=1)
    return sorted((f.rule, f.line) for f in report.findings)


@pytest.mark.parametrize("block", [64, 300, 1 << 20])
def test_secrets_in_a_few_of_many_blocks_are_all_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(lines_module, "BLOCK", block)
    notes = {1: "AKIAZ3X9Q2W8E7R6T5Y4", 33: "key AKIAQ7W3E9R2T8Y4U6I1 here", 60: "AKIAP0O9I8U7Y6T5R4E3"}
    assert _validate(tmp_path, notes) == [
        ("redaction.secret", 1),
        ("redaction.secret", 33),
        ("redaction.secret", 60),
    ]


def test_the_secret_rule_is_not_asked_about_records_of_a_block_with_no_flagged_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lines_module, "BLOCK", 300)
    asked: list[int] = []
    bind = secret_rules.bind_secret_scan

    def counting(ctx):  # type: ignore[no-untyped-def]
        check = bind(ctx)
        if check is None:
            return None
        asleep = ctx.idle_checks.pop(check)

        def counted(record, text, line, rid):  # type: ignore[no-untyped-def]
            asked.append(line)
            return check(record, text, line, rid)

        ctx.idle_when(counted, asleep)
        return counted

    from harness.portable.validate import rules as rules_module
    from harness.portable.validate import validator as validator_module

    swapped = tuple(counting if b is bind else b for b in rules_module.RECORD_RULES)
    monkeypatch.setattr(validator_module, "RECORD_RULES", swapped)
    monkeypatch.setattr(validator_module.Validator.check_entity, "__defaults__", (swapped,))
    assert _validate(tmp_path, {33: "AKIAQ7W3E9R2T8Y4U6I1"}) == [("redaction.secret", 33)]
    assert 33 in asked and len(asked) < 20  # only the records of the block holding line 33
