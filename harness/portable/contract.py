"""Export contracts: which entities an export holds and the rules every record must meet.

A contract is YAML validated against ``harness/schemas/contract.schema.json``
and then checked for meaning (unknown entities, missing schema files, fields
that the entity's JSON Schema does not declare). Every error names the
contract file and the entity or setting at fault.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema

from harness.config import load_yaml
from harness.errors import ConfigError
from harness.files import MANIFEST

SNAKE_CASE = r"^[a-z][a-z0-9_]*$"


@dataclass(frozen=True)
class Relationship:
    """A reference from ``field`` to ``entity.target_field``; ``array`` means a list of references."""

    field: str
    entity: str
    target_field: str
    nullable: bool
    array: bool


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
        cls = jsonschema.validators.validator_for(self.schema, default=jsonschema.Draft202012Validator)
        return cls(self.schema, format_checker=cls.FORMAT_CHECKER)

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
class Contract:
    path: Path
    name: str
    schema_version: str
    sha256: str
    entities: tuple[Entity, ...]
    omitted: tuple[Omitted, ...] = field(default_factory=tuple)
    strictness: Strictness = Strictness()

    def entity(self, name: str) -> Entity:
        for ent in self.entities:
            if ent.name == name:
                return ent
        raise ConfigError(f"{self.path}: unknown entity {name!r}")

    def by_file(self) -> dict[str, Entity]:
        return {ent.file: ent for ent in self.entities}

    def load_order(self) -> list[Entity]:
        """Entities ordered so that referenced entities come first (self-references allowed)."""
        remaining = {ent.name: ent for ent in self.entities}
        ordered: list[Entity] = []
        while remaining:
            ready = [
                ent
                for ent in remaining.values()
                if all(rel.entity == ent.name or rel.entity not in remaining for rel in ent.relationships)
            ]
            if not ready:
                cycle = ", ".join(sorted(remaining))
                raise ConfigError(f"{self.path}: relationships form a cycle among {cycle}")
            for ent in sorted(ready, key=lambda e: e.name):
                ordered.append(ent)
                del remaining[ent.name]
        return ordered


def _fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}")


def _load_entity_schema(path: Path, ent_name: str, raw: Any) -> tuple[dict[str, Any], bytes]:
    if isinstance(raw, dict):
        schema = raw
        blob = json.dumps(raw, sort_keys=True).encode()
    else:
        schema_path = (path.parent / str(raw)).resolve()
        if not schema_path.is_file():
            raise _fail(
                path, f"entity {ent_name!r}", f"schema file {raw!r} not found (looked at {schema_path})"
            )
        blob = schema_path.read_bytes()
        try:
            schema = json.loads(blob)
        except ValueError as exc:
            raise _fail(
                path, f"entity {ent_name!r}", f"schema file {schema_path} is not JSON: {exc}"
            ) from None
        if not isinstance(schema, dict):
            raise _fail(path, f"entity {ent_name!r}", f"schema file {schema_path} must hold a JSON object")
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise _fail(path, f"entity {ent_name!r}", f"invalid JSON Schema: {exc.message}") from None
    if not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        raise _fail(
            path, f"entity {ent_name!r}", "schema must declare the record's fields under 'properties'"
        )
    return schema, blob


def load_contract(path: str | Path) -> Contract:
    """Load, validate and resolve a contract file."""
    path = Path(path)
    data, blob = load_yaml(path, "contract.schema.json", "contract")

    digest = hashlib.sha256(blob)
    names = [e["name"] for e in data["entities"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: entity names must be unique; repeated: {', '.join(dupes)}")
    omitted = tuple(Omitted(o["entity"], o["reason"]) for o in data.get("omitted", []))
    for om in omitted:
        if om.entity in names:
            raise ConfigError(f"{path}: entity {om.entity!r} is both exported and listed under 'omitted'")

    entities: list[Entity] = []
    files: set[str] = set()
    for raw in data["entities"]:
        name = raw["name"]
        where = f"entity {name!r}"
        schema, schema_blob = _load_entity_schema(path, name, raw["schema"])
        digest.update(schema_blob)
        props = set(schema["properties"])
        bad_names = sorted(p for p in props if not _is_snake(p))
        if bad_names:
            raise _fail(path, where, f"field names must be snake_case: {', '.join(bad_names)}")
        file_name = raw.get("file", f"{name}.jsonl")
        if file_name in files or file_name == MANIFEST:
            raise _fail(path, where, f"file {file_name!r} is already used")
        files.add(file_name)
        pk = raw["primary_key"]
        redact = tuple(raw.get("redact", []))
        enums = {k: tuple(v) for k, v in raw.get("enums", {}).items()}
        timestamps = tuple(raw.get("timestamps", []))
        rels: list[Relationship] = []
        groups: list[tuple[str, ...]] = []
        for rel in raw.get("relationships", []):
            if "at_least_one_of" in rel:
                groups.append(tuple(rel["at_least_one_of"]))
                continue
            target, _, target_field = rel["references"].partition(".")
            rels.append(
                Relationship(
                    rel["field"], target, target_field, rel.get("nullable", False), rel.get("array", False)
                )
            )
        declared = {
            "primary_key": [pk],
            "enums": list(enums),
            "timestamps": list(timestamps),
            "relationships": [r.field for r in rels] + [f for g in groups for f in g],
        }
        for setting, fields in declared.items():
            unknown = sorted(set(fields) - props)
            if unknown:
                raise _fail(
                    path, where, f"{setting} names fields the schema does not declare: {', '.join(unknown)}"
                )
        leaked = sorted(set(redact) & props)
        if leaked:
            raise _fail(
                path, where, f"redacted fields must not be declared in the schema: {', '.join(leaked)}"
            )
        column_types = dict(raw.get("column_types", {}))
        unknown = sorted(set(column_types) - props)
        if unknown:
            raise _fail(
                path, where, f"column_types names fields the schema does not declare: {', '.join(unknown)}"
            )
        scan = raw.get("secret_scan", {})
        entities.append(
            Entity(
                name=name,
                file=file_name,
                table=raw["source"].get("table"),
                query=raw["source"].get("query"),
                primary_key=pk,
                schema=schema,
                redact=redact,
                enums=enums,
                timestamps=timestamps,
                relationships=tuple(rels),
                at_least_one_of=tuple(groups),
                secret_scan=scan.get("enabled", True),
                secret_allow_fields=tuple(scan.get("allow_fields", [])),
                column_types=column_types,
            )
        )

    by_name = {e.name: e for e in entities}
    for ent in entities:
        for rel in ent.relationships:
            target = by_name.get(rel.entity)
            if target is None:
                hint = " (it is listed under 'omitted')" if rel.entity in {o.entity for o in omitted} else ""
                raise _fail(
                    path,
                    f"entity {ent.name!r}",
                    f"relationship {rel.field!r} references unknown entity {rel.entity!r}{hint}",
                )
            if rel.target_field and rel.target_field != target.primary_key:
                raise _fail(
                    path,
                    f"entity {ent.name!r}",
                    f"relationship {rel.field!r} must reference the primary "
                    f"key of {rel.entity!r} ({target.primary_key!r}), not {rel.target_field!r}",
                )
    resolved = [
        dataclasses.replace(
            ent,
            relationships=tuple(
                dataclasses.replace(r, target_field=by_name[r.entity].primary_key) for r in ent.relationships
            ),
        )
        for ent in entities
    ]
    strict = data.get("strictness") or {}
    strictness = Strictness(
        max_record_bytes=int(strict.get("max_record_bytes", Strictness.max_record_bytes)),
        max_depth=int(strict.get("max_depth", Strictness.max_depth)),
        clock_skew_seconds=float(strict.get("clock_skew_seconds", Strictness.clock_skew_seconds)),
        severities=tuple(sorted((strict.get("severities") or {}).items())),
    )
    contract = Contract(
        path,
        data["name"],
        str(data["schema_version"]),
        digest.hexdigest(),
        tuple(resolved),
        omitted,
        strictness,
    )
    contract.load_order()  # rejects cycles early
    return contract


def _is_snake(name: str) -> bool:
    return re.fullmatch(SNAKE_CASE, name) is not None
