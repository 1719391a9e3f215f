"""What validation rules work on (the export, or one entity file) and where their findings go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.portable.contract import Contract, Entity
from harness.portable.validate.findings import Finding, ValidationReport
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules.catalogue import rule


@dataclass(frozen=True)
class RuleContext:
    report: ValidationReport

    def finding(
        self,
        rule_id: str,
        file: str,
        message: str,
        *,
        line: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ) -> None:
        """Report a finding of a catalogued rule (the one way findings are made; an unknown id
        raises KeyError)."""
        self.report.add(Finding(rule_id, file, line, record_id, message, field, rule(rule_id).severity))


@dataclass(frozen=True)
class ExportContext(RuleContext):
    contract: Contract
    export_dir: Path


@dataclass(frozen=True)
class EntityContext(RuleContext):
    entity: Entity
    index: RecordIndex


# A record rule bound to one entity: (record, line text, line number, record id) -> the record broke it.
RecordRule = Callable[[dict[str, Any], str, int, str | None], bool]
# Binds a record rule to an entity; None when the entity gives the rule nothing to check.
RecordRuleBinder = Callable[[EntityContext], RecordRule | None]
