"""Relationship rules: every reference is an id of a record in the export, and at least one
field of each ``at_least_one_of`` group is set.

Per record, references go to the on-disk index; after all files, one join finds the
references whose target is not in the export.
"""

from __future__ import annotations

from typing import Any

from harness.portable.validate.index import RecordIndex
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, ExportContext, RecordRule, shown_id
from harness.portable.validate.rules.records import record_key


@produces("relationship.dangling")
def bind_references(ctx: EntityContext) -> RecordRule | None:
    """Index each reference; one that is empty (where not allowed) or not an id is dangling now."""
    rels = ctx.entity.relationships
    if not rels:
        return None
    finding, file, name = ctx.finding, ctx.entity.file, ctx.entity.name
    add_ref = ctx.index.refs.append

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        bad = False
        for rel in rels:
            value = record.get(rel.field)
            values = value if rel.array and isinstance(value, list) else [value]
            for item in values:
                key = record_key(item)
                if key is not None:
                    add_ref((name, file, line, rid, rel.field, rel.entity, key))
                elif item is not None or not (rel.nullable or rel.array):
                    finding(
                        "relationship.dangling",
                        file,
                        f"reference to {rel.entity} is empty or not an id",
                        line=line,
                        record_id=rid,
                        field=rel.field,
                    )
                    bad = True
        return bad

    return check


@produces("relationship.at_least_one_of")
def bind_at_least_one_of(ctx: EntityContext) -> RecordRule | None:
    groups = ctx.entity.at_least_one_of
    if not groups:
        return None
    finding, file = ctx.finding, ctx.entity.file

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        bad = False
        for group in groups:
            if all(record.get(f) is None for f in group):
                finding(
                    "relationship.at_least_one_of",
                    file,
                    f"at least one of {list(group)} must be set",
                    line=line,
                    record_id=rid,
                )
                bad = True
        return bad

    return check


@produces("relationship.dangling")
def report_dangling_references(ctx: ExportContext, index: RecordIndex) -> None:
    """References to ids no entity file holds (runs after the duplicate check, which flushes
    and indexes the ids)."""
    for entity, file, line, ref_id, fld, target, target_id in index.dangling():
        ctx.finding(
            "relationship.dangling",
            file,
            f"references {target} id {shown_id(target_id)}, which is not in the export",
            line=line,
            record_id=ref_id,
            field=fld,
        )
        ctx.report.mark_invalid(entity, ref_id)
