"""Cross-record rules: the contract's own assertions over the indexed export (``rules``).

``count``: a parent's counter field equals the number of child records referencing it;
``requires``: each record (meeting a condition) is referenced by at least one related record. The
per-record facts go to the on-disk index while the files are read; one query per rule finds the
records that break it, so no record is held in memory.
"""

from __future__ import annotations

from typing import Any

from harness.portable.contract import CrossRecordRule
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules.catalogue import CONTRACT_RULES, produces
from harness.portable.validate.rules.context import EntityContext, ExportContext, RecordRule


def bind_rule_facts(ctx: EntityContext) -> RecordRule | None:
    """Record, per rule about this entity, the fact its check compares (a count, or "applies")."""
    contract = ctx.contract
    rules = tuple(r for r in (contract.rules if contract else ()) if r.entity == ctx.entity.name)
    if not rules:
        return None
    add = ctx.index.facts.append

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        if rid is None:
            return False
        for rule in rules:
            if rule.kind == "count":
                value = record.get(rule.field)
                if isinstance(value, int) and not isinstance(value, bool):
                    add((rule.id, rule.entity, rid, line, value))
            elif rule.when is None or rule.when.holds(record):
                add((rule.id, rule.entity, rid, line, 1))
        return False

    return check


bind_rule_facts.rule_ids = (CONTRACT_RULES,)  # type: ignore[attr-defined]


def report_rule_violations(ctx: ExportContext, index: RecordIndex) -> None:
    files = {e.name: e.file for e in ctx.contract.entities}
    for rule in ctx.contract.rules:
        for rid, line, value, found in index.rule_violations(
            rule.id, rule.related_entity, rule.related_field, rule.entity, count=rule.kind == "count"
        ):
            ctx.finding(
                f"rule.{rule.id}", files[rule.entity], _message(rule, value, found), line=line, record_id=rid
            )
            ctx.report.mark_invalid(rule.entity, rid)


# Marked after the definition, not decorated: mutmut leaves decorated functions unmutated.
produces(CONTRACT_RULES)(report_rule_violations)


def _message(rule: CrossRecordRule, value: int, found: int) -> str:
    if rule.kind == "count":
        return (
            f"{rule.message} ({rule.field} is {value}, {found} {rule.related_entity} record(s) reference it)"
        )
    return f"{rule.message} (no {rule.related_entity} record references it)"
