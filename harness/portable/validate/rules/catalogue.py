"""The catalogue of validation rules: every rule id once, with its family, severity and summary.

Findings are made only through ``RuleContext.finding``, which looks the id up here, so an id
missing from the catalogue is a programming error that any test reaching it catches. A family
is the module of ``harness.portable.validate.rules`` whose functions report its rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

FAMILIES = ("manifest", "files", "records", "fields", "secrets", "relationships")


@dataclass(frozen=True)
class Rule:
    id: str
    family: str
    summary: str
    severity: str = "error"


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule("manifest.missing", "manifest", "The export has no manifest.json."),
        Rule("manifest.json", "manifest", "manifest.json is not valid JSON."),
        Rule("manifest.schema", "manifest", "manifest.json does not meet the manifest's JSON Schema."),
        Rule("manifest.schema_version", "manifest", "The manifest's schema_version is not the contract's."),
        Rule("manifest.entities", "manifest", "The manifest's entity files differ from the contract's."),
        Rule("manifest.omitted", "manifest", "An entity the contract omits is not declared omitted."),
        Rule("file.missing", "files", "An entity file of the contract is not in the export."),
        Rule("file.unexpected", "files", "The export holds a file the contract does not know."),
        Rule("file.checksum", "files", "An entity file's sha256 is missing from the manifest or differs."),
        Rule("count.mismatch", "files", "An entity file's line count differs from the manifest's count."),
        Rule("record.utf8", "records", "A line is not valid UTF-8."),
        Rule("record.json", "records", "A line is not a JSON object."),
        Rule("record.schema", "records", "A record does not meet its entity's JSON Schema."),
        Rule("record.primary_key", "records", "A record's primary key is missing or not an integer/string."),
        Rule("record.duplicate_id", "records", "A primary key repeats an earlier record of the entity."),
        Rule("relationship.dangling", "relationships", "A reference is empty or names no exported record."),
        Rule("relationship.at_least_one_of", "relationships", "None of a group of references is set."),
        Rule("enum.unknown", "fields", "A field holds a value outside its enum."),
        Rule("timestamp.unparseable", "fields", "A timestamp field is not RFC 3339 with a zone."),
        Rule("redaction.field_present", "fields", "A field the contract redacts is present."),
        Rule("redaction.secret", "secrets", "The secret scanner found a credential in a record."),
    )
}

F = TypeVar("F", bound=Callable[..., Any])


def rule(rule_id: str) -> Rule:
    """The catalogue entry of ``rule_id``; an unknown id is a programming error."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"validation rule {rule_id!r} is not in the catalogue") from None


def produces(*rule_ids: str) -> Callable[[F], F]:
    """Mark a rule function with the catalogue ids it reports (checked when the module loads)."""
    for rule_id in rule_ids:
        rule(rule_id)

    def mark(fn: F) -> F:
        fn.rule_ids = rule_ids  # type: ignore[attr-defined]
        return fn

    return mark
