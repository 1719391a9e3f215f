"""The catalogue of validation rules: every rule id once, with its family, severity and summary.

Findings are made only through ``RuleContext.finding``, which looks the id up here, so an id
missing from the catalogue is a programming error that any test reaching it catches. A family
is the module of ``harness.portable.validate.rules`` whose functions report its rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

FAMILIES = (
    "manifest",
    "files",
    "reader",
    "records",
    "types",
    "fields",
    "secrets",
    "relationships",
    "crossrecord",
)


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
        Rule("manifest.duplicate_key", "manifest", "A JSON object in manifest.json repeats a key."),
        Rule("manifest.generated_at", "manifest", "generated_at is not a real UTC time, or is ahead."),
        Rule("manifest.counts", "manifest", "An entity file has no count, or a count names no entity file."),
        Rule("manifest.checksums", "manifest", "A checksum names a file that is not an entity file."),
        Rule("manifest.contract", "manifest", "The manifest names another contract than the one validating."),
        Rule("manifest.contract_version", "manifest", "The manifest names another version of the contract."),
        Rule("manifest.secret", "manifest", "The secret scanner found a credential in manifest.json."),
        Rule("file.missing", "files", "An entity file of the contract is not in the export."),
        Rule("file.unexpected", "files", "The export holds a file the contract does not know."),
        Rule("file.not_regular", "files", "An export entry is a symbolic link, directory or special file."),
        Rule("file.checksum", "files", "An entity file's sha256 is missing from the manifest or differs."),
        Rule("count.mismatch", "files", "An entity file's line count differs from the manifest's count."),
        Rule("record.line_ending", "reader", "A line ends in CR LF (JSON Lines lines end in LF)."),
        Rule("record.whitespace", "reader", "A line has whitespace before or after its JSON object."),
        Rule("file.final_newline", "reader", "An entity file's last line has no final newline."),
        Rule("record.size", "reader", "A line is longer than the contract's max_record_bytes."),
        Rule("record.duplicate_key", "reader", "A JSON object in a record repeats a key."),
        Rule("record.nul", "reader", "A string holds a NUL character (PostgreSQL cannot store it)."),
        Rule("record.depth", "reader", "A record nests deeper than the contract's max_depth."),
        Rule("record.utf8", "records", "A line is not valid UTF-8."),
        Rule("record.json", "records", "A line is not a JSON object."),
        Rule("record.schema", "records", "A record does not meet its entity's JSON Schema."),
        Rule("record.primary_key", "records", "A record's primary key is missing or not an integer/string."),
        Rule("record.duplicate_id", "records", "A primary key repeats an earlier record of the entity."),
        Rule(
            "record.duplicate_unique",
            "relationships",
            "A unique combination of fields repeats an earlier record's.",
        ),
        Rule(
            "type.integer",
            "types",
            "An integer field holds a non-integer literal or a number outside its column's range.",
        ),
        Rule("type.column", "types", "A value cannot be stored in the field's declared column type."),
        Rule("relationship.dangling", "relationships", "A reference is empty or names no exported record."),
        Rule("relationship.at_least_one_of", "relationships", "None of a group of references is set."),
        Rule(
            "rule.*", "crossrecord", "A cross-record rule of the contract fails (rule.<its id>, its message)."
        ),
        Rule("enum.unknown", "fields", "A field holds a value outside its enum."),
        Rule("timestamp.unparseable", "fields", "A timestamp field is not RFC 3339 with a zone."),
        Rule("redaction.field_present", "fields", "A field the contract redacts is present."),
        Rule("redaction.secret", "secrets", "The secret scanner found a credential in a record."),
    )
}

#: Rules a contract's ``strictness.severities`` may lower to a warning: they judge the form of the
#: files, not whether the data can be restored whole. Any rule may be raised to an error.
LOWERABLE = frozenset(
    {"record.line_ending", "record.whitespace", "file.final_newline", "manifest.contract_version"}
)

F = TypeVar("F", bound=Callable[..., Any])


#: A contract's own cross-record rules report as ``rule.<id>``: one catalogue entry stands for them.
CONTRACT_RULES = "rule.*"


def rule(rule_id: str) -> Rule:
    """The catalogue entry of ``rule_id``; an unknown id is a programming error."""
    if rule_id.startswith("rule.") and rule_id != CONTRACT_RULES:
        return RULES[CONTRACT_RULES]
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
