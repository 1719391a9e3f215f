"""What validation rules work on: the export, one entity file, and where findings go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.portable.contract import Contract, Entity
from harness.portable.validate.findings import ValidationReport
from harness.portable.validate.index import RecordIndex


class FindingSink(Protocol):
    """Records one finding of a catalogued rule (``Validator.finding``)."""

    def __call__(
        self,
        rule: str,
        file: str,
        message: str,
        *,
        line: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class ExportContext:
    contract: Contract
    export_dir: Path
    finding: FindingSink
    report: ValidationReport


@dataclass(frozen=True)
class EntityContext:
    entity: Entity
    index: RecordIndex
    finding: FindingSink


# A record rule bound to one entity: (record, line text, line number, record id) -> the record broke it.
RecordRule = Callable[[dict[str, Any], str, int, "str | None"], bool]
# Binds a record rule to an entity; None when the entity gives the rule nothing to check.
RecordRuleBinder = Callable[[EntityContext], "RecordRule | None"]
