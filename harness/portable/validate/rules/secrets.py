"""Secret rule: the secret scanner finds no credential in a record (fields the contract allows
aside). Only lines the cheap pre-filter flags are scanned."""

from __future__ import annotations

from typing import Any

import re2

from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule
from harness.secrets import might_hold_secret, scan_record


def _combined(patterns: tuple[str, ...]) -> Any:
    """One RE2 alternation for the contract's patterns (linear time), or None when there are none."""
    return re2.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def bind_secret_scan(ctx: EntityContext) -> RecordRule | None:
    if not ctx.entity.secret_scan:
        return None
    allow = ctx.entity.secret_allow_fields
    finding, file = ctx.finding, ctx.entity.file
    own = ctx.contract.secret_rules if ctx.contract is not None else None
    keys = _combined(own.key_patterns) if own else None
    values = _combined(own.value_patterns) if own else None

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        # The pre-filter knows only the built-in shapes: the application's own rules see every record.
        if not own and not might_hold_secret(text):
            return False
        bad = False
        for hit in scan_record(record, allow_fields=allow, key_pattern=keys, value_pattern=values):
            finding("redaction.secret", file, hit.describe(), line=line, record_id=rid, field=hit.path)
            bad = True
        return bad

    return check


# Marked after the definition, not decorated: mutmut leaves decorated functions unmutated.
produces("redaction.secret")(bind_secret_scan)
