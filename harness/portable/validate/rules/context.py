"""What validation rules work on (the export, or one entity file) and where their findings go."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.portable.contract import Contract, Entity, Strictness
from harness.portable.validate.findings import Finding, ValidationReport
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules.catalogue import rule
from harness.secrets import scan_text

#: Record ids longer than this are shown by their length only.
MAX_SHOWN_ID = 64


def shown_id(record_id: str | None) -> str | None:
    """A record id as findings may show it: as written, unless it is long or looks like a secret
    (a token used as an id), then only its shape."""
    if record_id is None or (len(record_id) <= MAX_SHOWN_ID and scan_text(record_id) is None):
        return record_id
    return f"<id withheld: {len(record_id)} chars>"


@dataclass(frozen=True)
class RuleContext:
    report: ValidationReport
    strictness: Strictness

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
        raises KeyError). The severity is the catalogue's unless the contract's strictness sets it;
        a record id that could be a secret is never shown."""
        severity = self.strictness.severity(rule_id, rule(rule_id).severity)
        self.report.add(Finding(rule_id, file, line, shown_id(record_id), message, field, severity))


@dataclass(frozen=True)
class ExportContext(RuleContext):
    contract: Contract
    export_dir: Path


# Sees a block of whole lines (raw bytes) and the number of its first line.
BlockHook = Callable[[bytes, int], None]


@dataclass(frozen=True)
class EntityContext(RuleContext):
    entity: Entity
    index: RecordIndex
    contract: Contract | None = None
    declared_redactions: frozenset[str] = frozenset()  # fields the manifest says are redacted
    block_hooks: list[BlockHook] = field(default_factory=list)
    idle_checks: dict[RecordRule, Callable[[], bool]] = field(default_factory=dict)

    def on_block(self, hook: BlockHook) -> None:
        """Have ``hook(body, first line number)`` see each block of whole lines before its records
        are checked (a rule that looks at many lines at once, such as a pre-filter)."""
        self.block_hooks.append(hook)

    def idle_when(self, check: RecordRule, asleep: Callable[[], bool]) -> None:
        """Let the validator skip ``check`` for a block's records when ``asleep()`` says, after the
        block hooks ran, that none of them can break it (it would return False for each)."""
        self.idle_checks[check] = asleep


# A record rule bound to one entity: (record, line text, line number, record id) -> the record broke it.
RecordRule = Callable[[dict[str, Any], str, int, str | None], bool]
# Binds a record rule to an entity; None when the entity gives the rule nothing to check.
RecordRuleBinder = Callable[[EntityContext], RecordRule | None]
