"""Secret rule: the secret scanner finds no credential in a record (fields the contract allows
aside). Only lines the cheap pre-filter flags are scanned."""

from __future__ import annotations

from typing import Any

from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, RecordRule
from harness.secrets import might_hold_secret, scan_record


@produces("redaction.secret")
def bind_secret_scan(ctx: EntityContext) -> RecordRule | None:
    if not ctx.entity.secret_scan:
        return None
    allow = ctx.entity.secret_allow_fields
    finding, file = ctx.finding, ctx.entity.file

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        if not might_hold_secret(text):
            return False
        bad = False
        for hit in scan_record(record, allow_fields=allow):
            finding("redaction.secret", file, hit.describe(), line=line, record_id=rid, field=hit.path)
            bad = True
        return bad

    return check
