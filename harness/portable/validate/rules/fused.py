"""The clean-record fast path: one generated predicate per entity, True only when none of the field
rules would report anything, so the validator can skip them for the records that pass it.

Most records break no rule. For those, calling seven record rules (the schema pre-check, integer
and declared column types, enums, timestamps, redacted fields, ``at_least_one_of``), each looking
its fields up again, costs more than all their tests together. :func:`bind_clean` writes those
tests into one function (``harness.fastschema.generate_check``) from the same entity facts and the
same value tests the rules use. It can only skip work: a record it does not pass goes through every
rule, which alone make findings (tests/test_validate_fused.py checks that a passed record gives
the rules nothing to report).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from harness.clock import parse_rfc3339
from harness.fastschema import FieldTest, generate_check, generates
from harness.portable.validate.rules import fields, records, relationships, types
from harness.portable.validate.rules.context import EntityContext, RecordRuleBinder

#: The record rules a clean record passes without being asked (the schema one only when the
#: entity's schema is written into the predicate).
FIELD_RULES: tuple[RecordRuleBinder, ...] = (
    types.bind_integer_columns,
    types.bind_declared_columns,
    fields.bind_enums,
    fields.bind_timestamps,
    fields.bind_redacted_fields,
    relationships.bind_at_least_one_of,
)


def bind_clean(ctx: EntityContext) -> tuple[Callable[[dict[str, Any]], bool], frozenset[RecordRuleBinder]]:
    """The entity's clean-record predicate and the rules a record it passes needs no check by."""
    ent = ctx.entity
    tests: dict[str, list[FieldTest]] = {}
    for fld, (low, high) in ent.integer_fields.items():
        tests.setdefault(fld, []).append(("int_range", low, high))
    for fld, column in ent.column_types.items():
        if column in types.COLUMN_TESTS:
            tests.setdefault(fld, []).append(("call", types.COLUMN_TESTS[column]))
    for fld, values in ent.enums.items():
        strings = frozenset(v for v in values if type(v) is str)
        integers = frozenset(v for v in values if type(v) is int)
        tests.setdefault(fld, []).append(("one_of", strings, integers))
    for fld in ent.timestamps:
        form = ent.timestamp_forms.get(fld, "rfc3339")
        if form == "rfc3339":  # fields.FORM_TESTS' test, its common form written inline
            tests.setdefault(fld, []).append(("rfc3339", datetime.fromisoformat, parse_rfc3339))
        else:
            tests.setdefault(fld, []).append(("call", fields.FORM_TESTS[form]))
    absent = frozenset((*ent.redact, *ctx.declared_redactions))
    covered = set(FIELD_RULES)
    schema: dict[str, Any] | None = None
    if generates(ent.schema):
        schema = ent.schema
        covered.add(records.bind_schema)
    clean = generate_check(schema, tests, absent, ent.at_least_one_of)
    return clean, frozenset(covered)
