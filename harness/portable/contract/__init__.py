"""Export contracts: which entities an export holds, the rules every record must meet, how the
manifest is written and how the records restore. Version 1 describes the harness's own exports,
version 2 any application's (docs/contract-format.md)."""

from __future__ import annotations

from harness.portable.contract.load import load_contract
from harness.portable.contract.model import (
    COLUMN_TYPES,
    INTEGER_RANGES,
    TIMESTAMP_FORMS,
    Condition,
    Contract,
    CrossRecordRule,
    Entity,
    Omitted,
    Relationship,
    SecretRules,
    Strictness,
    composite_text,
    key_text,
)
from harness.portable.contract.paths import FieldPath
from harness.portable.contract.profile import HARNESS_PROFILE, ManifestProfile, ManifestView, read_view

__all__ = [
    "COLUMN_TYPES",
    "HARNESS_PROFILE",
    "INTEGER_RANGES",
    "TIMESTAMP_FORMS",
    "Condition",
    "Contract",
    "CrossRecordRule",
    "Entity",
    "FieldPath",
    "ManifestProfile",
    "ManifestView",
    "Omitted",
    "Relationship",
    "SecretRules",
    "Strictness",
    "composite_text",
    "key_text",
    "load_contract",
    "read_view",
]
