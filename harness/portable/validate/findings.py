"""Validation findings and the report that collects them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Keep the report bounded however bad the export is; counts stay exact.
MAX_KEPT_FINDINGS = 1000


@dataclass(frozen=True)
class Finding:
    """One broken rule. ``message`` never contains a secret value."""

    rule: str
    file: str
    line: int | None
    record_id: str | None
    message: str
    field: str | None = None
    severity: str = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "record_id": self.record_id,
            "field": self.field,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        rec = f" record {self.record_id}" if self.record_id is not None else ""
        fld = f" field {self.field}" if self.field else ""
        return f"{where}{rec}{fld}: [{self.rule}] {self.message}"


@dataclass
class ValidationReport:
    export_dir: Path
    manifest: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    rule_counts: Counter[str] = field(default_factory=Counter)
    severity_counts: Counter[str] = field(default_factory=Counter)
    records_checked: int = 0
    entity_counts: dict[str, int] = field(default_factory=dict)
    invalid_ids: dict[str, set[str]] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 1  # processes that checked the entity files

    def add(self, finding: Finding) -> None:
        self.rule_counts[finding.rule] += 1
        self.severity_counts[finding.severity] += 1
        if len(self.findings) < MAX_KEPT_FINDINGS:
            self.findings.append(finding)

    def merge(self, part: ValidationReport) -> None:
        """Fold in the report of one entity file checked elsewhere (counts stay exact)."""
        room = MAX_KEPT_FINDINGS - len(self.findings)
        self.findings.extend(part.findings[: max(room, 0)])
        self.rule_counts.update(part.rule_counts)
        self.severity_counts.update(part.severity_counts)
        self.records_checked += part.records_checked
        self.entity_counts.update(part.entity_counts)
        for entity, ids in part.invalid_ids.items():
            self.invalid_ids.setdefault(entity, set()).update(ids)

    def mark_invalid(self, entity: str, record_id: str | None) -> None:
        if record_id is not None:
            self.invalid_ids.setdefault(entity, set()).add(record_id)

    @property
    def finding_count(self) -> int:
        return sum(self.rule_counts.values())

    @property
    def error_count(self) -> int:
        """Findings that fail validation (warnings do not)."""
        return self.severity_counts["error"]

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def invalid_count(self) -> int:
        return sum(len(v) for v in self.invalid_ids.values())

    def summary(self, max_findings: int = 50) -> dict[str, Any]:
        """Evidence-ready summary: counts plus the first findings."""
        return {
            "passed": self.ok,
            "records_checked": self.records_checked,
            "entity_counts": dict(self.entity_counts),
            "finding_count": self.finding_count,
            "error_count": self.error_count,
            "warning_count": self.severity_counts["warning"],
            "findings_by_rule": dict(sorted(self.rule_counts.items())),
            "invalid_records": self.invalid_count,
            "findings": [f.to_dict() for f in self.findings[:max_findings]],
            "findings_truncated": self.finding_count > max_findings,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
        }
