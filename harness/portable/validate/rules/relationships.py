"""Relationship rules: every reference is an id of a record in the export, and at least one
field of each ``at_least_one_of`` group is set.

Per record, references go to the index (distinct target keys, and where each reference is); after
all files, one set-wise pass per target entity finds the references whose target is not in the export.
"""

from __future__ import annotations

from typing import Any

import orjson

from harness.portable.contract import Relationship, composite_text, key_text
from harness.portable.contract import key_text as record_key
from harness.portable.validate.index import RecordIndex
from harness.portable.validate.keys import BOUND, key_of
from harness.portable.validate.rules.catalogue import produces
from harness.portable.validate.rules.context import EntityContext, ExportContext, RecordRule, shown_id


@produces("relationship.dangling")
def bind_references(ctx: EntityContext) -> RecordRule | None:
    """Index each reference; one that is empty (where not allowed) or not an id is dangling now."""
    general = tuple(r for r in ctx.entity.relationships if not r.simple)
    simple = tuple(r for r in ctx.entity.relationships if r.simple)
    if not simple and not general:
        return None
    finding, file, name = ctx.finding, ctx.entity.file, ctx.entity.name
    index = ctx.index
    store = index.store(name, file)
    add_place, keep = store.places.append, store.keep_places
    # Per simple reference: its field and target, whether it may be empty, whether it holds an
    # array of ids, where its target keys go, and whether a cross-record rule counts it.
    rels = tuple(
        (
            r.field,
            r.entity,
            r.nullable or r.array,
            r.array,
            store.keys_to(r.entity).add,
            (name, r.field) in index.rule_fields,
        )
        for r in simple
    )

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        bad = any([_general(ctx, rel, record, line, rid) for rel in general]) if general else False
        for fld, target, may_be_empty, array, add_key, counted in rels:
            value = record.get(fld)
            if value.__class__ is int and -BOUND < value < BOUND and not counted:  # the usual id
                add_key(value)
                if keep:
                    add_place((line, rid, fld, target, value))
                continue
            if value is None and may_be_empty:
                continue
            for item in value if array and isinstance(value, list) else (value,):
                key = item if item.__class__ is int and -BOUND < item < BOUND else key_of(item)
                if key is not None:
                    add_key(key)
                    if keep:
                        add_place((line, rid, fld, target, key))
                    if counted:
                        index.refs.append((name, file, line, rid, fld, target, record_key(item) or ""))
                elif item is not None or not may_be_empty:
                    finding(
                        "relationship.dangling",
                        file,
                        f"reference to {target} is empty or not an id",
                        line=line,
                        record_id=rid,
                        field=fld,
                    )
                    bad = True
        return bad

    return check


@produces("relationship.dangling")
def _general(
    ctx: EntityContext, rel: Relationship, record: dict[str, Any], line: int, rid: str | None
) -> bool:
    """A version-2 reference: nested or through arrays of objects, composite, conditional or
    polymorphic. Indexes every target key it finds; reports what cannot be a reference."""
    if rel.when is not None and not rel.when.holds(record):
        return False
    target = rel.entity
    if rel.entity_by is not None:
        selector, choices = rel.entity_by
        kinds = selector.values(record)
        chosen = dict(choices).get(kinds[0]) if len(kinds) == 1 and isinstance(kinds[0], str | int) else None
        if chosen is None:
            if kinds in ([], [None]) and rel.nullable:
                return False
            ctx.finding(
                "relationship.dangling",
                ctx.entity.file,
                f"{selector.text} names none of the entities the reference may point at {rel.targets()}",
                line=line,
                record_id=rid,
                field=selector.text,
            )
            return True
        target = chosen
    columns = [path.values(record) for path in rel.paths]
    if len({len(c) for c in columns}) > 1:
        ctx.finding(
            "relationship.dangling",
            ctx.entity.file,
            f"the parts of a composite reference to {target} do not line up",
            line=line,
            record_id=rid,
            field=rel.field,
        )
        return True
    bad = False
    for parts in zip(*columns, strict=True):
        if rel.nullable and any(p is None for p in parts):
            continue  # as SQL's MATCH SIMPLE: a reference with a null part points nowhere
        key = key_text(parts[0]) if len(parts) == 1 else composite_text(list(parts))
        if key is None:
            ctx.finding(
                "relationship.dangling",
                ctx.entity.file,
                f"reference to {target} is empty or not an id",
                line=line,
                record_id=rid,
                field=rel.field,
            )
            bad = True
        else:
            ctx.index.add_ref(ctx.entity.name, ctx.entity.file, line, rid, rel.field, target, key)
    return bad


@produces("record.duplicate_unique")
def bind_unique(ctx: EntityContext) -> RecordRule | None:
    """Index each record's unique combinations (contract ``unique``); repeats are found in the index."""
    constraints = ctx.entity.unique
    if not constraints:
        return None
    name, add = ctx.entity.name, ctx.index.uniq.append

    def check(record: dict[str, Any], text: str, line: int, rid: str | None) -> bool:
        for number, fields in enumerate(constraints):
            values = [record.get(f) for f in fields]
            if all(v is not None for v in values):  # SQL UNIQUE: rows with a NULL never collide
                add((name, number, orjson.dumps(values).decode(), line, rid))
        return False

    return check


@produces("record.duplicate_unique")
def report_unique_violations(ctx: ExportContext, index: RecordIndex) -> None:
    entities = {e.name: e for e in ctx.contract.entities}
    for entity, number, _key, line, rid in index.unique_violations():
        ent = entities[entity]
        fields = ", ".join(ent.unique[number])
        ctx.finding(
            "record.duplicate_unique",
            ent.file,
            f"({fields}) repeats an earlier record's, and must be unique",
            line=line,
            record_id=rid,
        )
        ctx.report.mark_invalid(entity, rid)


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
        # Line 0: the reference was not found again where it was read (the file changed meanwhile).
        where = "" if line else " (its line was not found again: the file changed while it was read)"
        ctx.finding(
            "relationship.dangling",
            file,
            f"references {target} id {shown_id(target_id)}, which is not in the export{where}",
            line=line or None,
            record_id=ref_id,
            field=fld or None,
        )
        ctx.report.mark_invalid(entity, ref_id)
