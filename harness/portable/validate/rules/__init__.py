"""Validation rules as extension points.

Every rule id is declared once in :mod:`.catalogue` (family, severity, summary); the functions
that report it live in the family's module and carry ``@produces(...)``. A new rule is a
catalogue line plus a function registered below, in report order:

* ``MANIFEST_RULES`` check a manifest that parsed and met its schema against the contract;
* ``RECORD_RULES`` bind to one entity (or return None when it has nothing to check) and
  return a ``(record, line text, line number, record id) -> bad`` check the validator's
  per-line loop calls;
* ``INDEX_RULES`` run once over the id/reference index of the whole export.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.portable.contract import ManifestView
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules import (
    crossrecord,
    fields,
    manifest,
    reader,
    records,
    relationships,
    secrets,
    types,
)
from harness.portable.validate.rules.context import ExportContext, RecordRuleBinder

MANIFEST_RULES: tuple[Callable[[ExportContext, dict[str, Any], ManifestView], None], ...] = (
    manifest.check_profile_shape,
    manifest.check_schema_version,
    manifest.check_entity_files,
    manifest.check_omitted,
    manifest.check_generated_at,
    manifest.check_counts,
    manifest.check_checksum_entries,
    manifest.check_contract_identity,
    manifest.check_manifest_secrets,
)

RECORD_RULES: tuple[RecordRuleBinder, ...] = (
    reader.bind_reader,
    records.bind_schema,
    types.bind_integer_columns,
    types.bind_declared_columns,
    fields.bind_enums,
    fields.bind_timestamps,
    fields.bind_redacted_fields,
    secrets.bind_secret_scan,
    relationships.bind_references,
    relationships.bind_unique,
    relationships.bind_at_least_one_of,
    crossrecord.bind_rule_facts,
)

# The duplicate check goes first: it flushes the index and indexes the ids the join needs.
INDEX_RULES: tuple[Callable[[ExportContext, RecordIndex], None], ...] = (
    records.report_duplicate_ids,
    relationships.report_unique_violations,
    relationships.report_dangling_references,
    crossrecord.report_rule_violations,
)
