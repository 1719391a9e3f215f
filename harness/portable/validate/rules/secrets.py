"""Secret rule: the secret scanner finds no credential in a record (fields the contract allows
aside). Only lines the cheap pre-filter flags are scanned: one RE2 pass over each block of lines
picks the candidates, :func:`might_hold_secret` then decides for each as it always has."""

from __future__ import annotations

from typing import Any

import re2

from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule
from harness.secrets import lines_that_might_hold_secrets, might_hold_secret, scan_record


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
    # Line numbers of the current block the pre-filter lets through; None until a block is seen
    # (a caller that checks records one by one gets might_hold_secret alone).
    flagged: list[frozenset[int] | None] = [None]

    def pre_filter(body: bytes, first: int) -> None:
        flagged[0] = frozenset(first + index for index in lines_that_might_hold_secrets(body))

    if not own:  # the pre-filter knows only the built-in shapes: the application's own rules see every record
        ctx.on_block(pre_filter)

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        if not own:
            lines = flagged[0]
            if (lines is not None and line not in lines) or not might_hold_secret(text):
                return False
        bad = False
        for hit in scan_record(record, allow_fields=allow, key_pattern=keys, value_pattern=values):
            finding("redaction.secret", file, hit.describe(), line=line, record_id=rid, field=hit.path)
            bad = True
        return bad

    if not own:  # a block the pre-filter flags no line of: check would say False for each record
        ctx.idle_when(check, lambda: flagged[0] is not None and not flagged[0])
    return check


# Marked after the definition, not decorated: mutmut leaves decorated functions unmutated.
produces("redaction.secret")(bind_secret_scan)
