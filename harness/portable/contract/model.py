"""The export contract model: entities, their keys, references, checks and restore mapping.

A version-1 contract describes the harness's own exports (snake_case fields, single-field keys,
top-level references, the harness's manifest); version 2 describes any application's: fields in any
case, composite keys and unique constraints, references at any depth, conditional and polymorphic
references, cycles, timestamp forms per field, the application's own secret rules, cross-record
rules, absent-versus-null, a restore mapping, and the manifest's own shape (``profile.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from harness.errors import ConfigError
from harness.portable.contract.paths import FieldPath
from harness.portable.contract.profile import HARNESS_PROFILE, ManifestProfile
from harness.schema_patterns import validator_class

#: PostgreSQL column types a contract may declare for a field (``column_types``), and the range an
#: integer column holds. A field declared ``integer`` in its JSON Schema is a ``bigint`` unless said.
COLUMN_TYPES = (
    "smallint", "integer", "bigint", "numeric", "real", "double precision", "boolean", "text", "uuid",
    "timestamptz", "timestamp", "date", "jsonb", "json",
)  # fmt: skip
INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
#: How a timestamp field is written (``timestamps: {field: form}`` in version 2).
TIMESTAMP_FORMS = ("rfc3339", "date", "epoch_s", "epoch_ms")


def key_text(value: Any) -> str | None:
    """Stable string form of an id or reference value (ints and strings; anything else is not an id)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


def composite_text(values: list[Any]) -> str | None:
    """One id for a composite key (every part an id), as compact JSON: ``["t1",5]``."""
    if any(key_text(v) is None for v in values):
        return None
    return orjson.dumps(values).decode()


@dataclass(frozen=True)
class Condition:
    """``when: {field: status, equals: approved}``: a reference that applies only then."""

    path: FieldPath
    equals: Any

    def holds(self, record: dict[str, Any]) -> bool:
        return any(v == self.equals and type(v) is type(self.equals) for v in self.path.values(record))


@dataclass(frozen=True)
class Relationship:
    """A reference from the record to another entity's key.

    ``paths`` hold one path per key part (composite references), each possibly nested
    (``approval.decidedBy``) or through arrays of objects (``jobRefs[].jobId``); ``entity`` is the
    target, or ``entity_by`` picks it from another field (polymorphic); ``when`` limits it to the
    records meeting a condition. ``field``/``array`` keep the version-1 form (a top-level field
    holding one id or a list of ids)."""

    field: str
    entity: str
    target_field: str
    nullable: bool
    array: bool
    paths: tuple[FieldPath, ...] = ()
    when: Condition | None = None
    entity_by: tuple[FieldPath, tuple[tuple[Any, str], ...]] | None = None

    @property
    def simple(self) -> bool:
        """The version-1 form: one top-level field, a fixed target, no condition."""
        return (
            len(self.paths) <= 1
            and self.when is None
            and self.entity_by is None
            and (not self.paths or self.paths[0].top_level)
        )

    def targets(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.entity_by[1]) if self.entity_by else (self.entity,)


@dataclass(frozen=True)
class CrossRecordRule:
    """A declarative assertion over the indexed export (contract ``rules``)."""

    id: str
    message: str
    kind: str  # count | requires
    entity: str
    field: str = ""  # count: the counter field of ``entity``
    when: Condition | None = None  # requires: which records of ``entity`` need a related record
    related_entity: str = ""
    related_field: str = ""  # the related (child) entity's reference field to ``entity``


@dataclass(frozen=True)
class Entity:
    name: str
    file: str
    table: str | None
    query: str | None
    primary_key: str
    schema: dict[str, Any]
    redact: tuple[str, ...]
    enums: dict[str, tuple[Any, ...]]
    timestamps: tuple[str, ...]
    relationships: tuple[Relationship, ...]
    at_least_one_of: tuple[tuple[str, ...], ...]
    secret_scan: bool
    secret_allow_fields: tuple[str, ...]
    column_types: dict[str, str] = field(default_factory=dict)
    key: tuple[str, ...] = ()  # the primary key's fields (composite when more than one)
    unique: tuple[tuple[str, ...], ...] = ()
    timestamp_forms: dict[str, str] = field(default_factory=dict)  # field -> form (default rfc3339)
    columns: dict[str, str] = field(default_factory=dict)  # field -> restore column (default: the field)
    absent_means_null: bool = True

    @property
    def key_fields(self) -> tuple[str, ...]:
        return self.key or (self.primary_key,)

    def record_id(self, record: dict[str, Any]) -> str | None:
        """The record's key as a string (None when a part is missing or not an integer/string)."""
        fields = self.key_fields
        if len(fields) == 1:
            return key_text(record.get(fields[0]))
        return composite_text([record.get(f) for f in fields])

    def column(self, fld: str) -> str:
        return self.columns.get(fld, fld)

    @cached_property
    def integer_fields(self) -> dict[str, tuple[int, int]]:
        """Fields a JSON integer goes into, with the range of their column (bigint unless declared)."""
        out: dict[str, tuple[int, int]] = {}
        for name, spec in self.schema.get("properties", {}).items():
            declared = self.column_types.get(name)
            types = spec.get("type") if isinstance(spec, dict) else None
            is_integer = types == "integer" or (isinstance(types, list) and "integer" in types)
            if declared in INTEGER_RANGES or (declared is None and is_integer):
                out[name] = INTEGER_RANGES[declared or "bigint"]
        return out

    @cached_property
    def validator(self) -> jsonschema.protocols.Validator:
        cls = validator_class(self.schema)  # jsonschema, its regular expressions run by RE2
        return cls(self.schema, format_checker=cls.FORMAT_CHECKER)  # type: ignore[no-any-return]

    @cached_property
    def fast_check(self) -> Callable[[Any], bool] | None:
        """A quick validity predicate for simple schemas (see harness.fastschema)."""
        from harness.fastschema import compile_schema

        return compile_schema(self.schema)

    @property
    def fields(self) -> tuple[str, ...]:
        """Fields declared by the entity's JSON Schema, sorted (the export's key order)."""
        return tuple(sorted(self.schema.get("properties", {})))


@dataclass(frozen=True)
class Omitted:
    entity: str
    reason: str


@dataclass(frozen=True)
class Strictness:
    """How strictly the export's files are read (``strictness:`` in the contract)."""

    max_record_bytes: int = 8 << 20  # a longer line is record.size
    max_depth: int = 32  # objects and arrays nested deeper are record.depth
    clock_skew_seconds: float = 300.0  # generated_at may be this far in the future
    severities: tuple[tuple[str, str], ...] = ()  # (rule id, error|warning) overrides

    def severity(self, rule_id: str, default: str) -> str:
        return dict(self.severities).get(rule_id, default)


@dataclass(frozen=True)
class SecretRules:
    """The application's own secrets, added to the built-in scanner (``secret_rules``)."""

    key_patterns: tuple[str, ...] = ()  # RE2, searched in every object key (any depth)
    value_patterns: tuple[str, ...] = ()  # RE2, searched in every string value

    def __bool__(self) -> bool:
        return bool(self.key_patterns or self.value_patterns)


@dataclass(frozen=True)
class Contract:
    path: Path
    name: str
    schema_version: str
    sha256: str
    entities: tuple[Entity, ...]
    omitted: tuple[Omitted, ...] = field(default_factory=tuple)
    strictness: Strictness = Strictness()
    version: int = 1
    profile: ManifestProfile = HARNESS_PROFILE
    rules: tuple[CrossRecordRule, ...] = ()
    secret_rules: SecretRules = SecretRules()

    def entity(self, name: str) -> Entity:
        for ent in self.entities:
            if ent.name == name:
                return ent
        raise ConfigError(f"{self.path}: unknown entity {name!r}")

    def by_file(self) -> dict[str, Entity]:
        return {ent.file: ent for ent in self.entities}

    def dependencies(self, ent: Entity) -> set[str]:
        """The other entities ``ent``'s references point at."""
        return {t for rel in ent.relationships for t in rel.targets() if t != ent.name}

    def cycle(self) -> list[str] | None:
        """One reference cycle between entities (``[a, b, a]``), or None."""
        graph = {ent.name: sorted(self.dependencies(ent)) for ent in self.entities}
        state: dict[str, int] = {}
        for start in sorted(graph):
            if state.get(start):
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            trail: list[str] = []
            while stack:
                node, index = stack.pop()
                if index == 0:
                    state[node] = 1
                    trail.append(node)
                children = graph[node]
                if index < len(children):
                    stack.append((node, index + 1))
                    child = children[index]
                    if state.get(child) == 1:
                        return [*trail[trail.index(child) :], child]
                    if not state.get(child):
                        stack.append((child, 0))
                else:
                    state[node] = 2
                    trail.pop()
        return None

    def load_order(self) -> list[Entity]:
        """Entities ordered so that referenced entities come first (self-references allowed). Only a
        version-2 contract may have cycles; they are broken in name order (the restore defers the
        constraints)."""
        remaining = {ent.name: ent for ent in self.entities}
        ordered: list[Entity] = []
        while remaining:
            ready = [e for e in remaining.values() if not (self.dependencies(e) & set(remaining))]
            if not ready:
                if self.version < 2:
                    cycle = self.cycle() or sorted(remaining)
                    raise ConfigError(
                        f"{self.path}: relationships form a cycle: {' -> '.join(cycle)} "
                        "(a version-2 contract may have cycles; the restore then defers constraints)"
                    )
                ready = [remaining[min(remaining)]]
            for ent in sorted(ready, key=lambda e: e.name):
                ordered.append(ent)
                del remaining[ent.name]
        return ordered
