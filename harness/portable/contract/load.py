"""Loading an export contract: YAML checked against its version's JSON Schema
(``contract.schema.json`` for version 1, ``contract-v2.schema.json`` for version 2), then for
meaning (unknown entities, missing schema files, fields the entity's JSON Schema does not declare).
Every error names the contract file, the entity and the setting at fault.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

from harness.config import check, read_yaml
from harness.errors import ConfigError
from harness.files import MANIFEST
from harness.portable.contract.model import Contract, Entity, Omitted, Relationship
from harness.portable.contract.parts import fail, load_entity_schema, parse_strictness

SNAKE_CASE = r"^[a-z][a-z0-9_]*$"
SCHEMAS = {1: "contract.schema.json", 2: "contract-v2.schema.json"}


def load_contract(path: str | Path) -> Contract:
    """Load, validate and resolve a contract file."""
    path = Path(path)
    data, blob = read_yaml(path, "contract")
    version = data.get("contract_version") if isinstance(data, dict) else None
    if version == 2:
        try:
            check(data, SCHEMAS[2], str(path), shared=(SCHEMAS[1],))
        except ConfigError as exc:
            raise ConfigError(
                f"{_entity_named(str(exc), data)} (read as a contract_version 2 contract)"
            ) from None
        from harness.portable.contract.v2 import load_v2

        return load_v2(path, data, blob)
    _field_names_v1(path, data)
    check(data, SCHEMAS[1], str(path))

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
        schema, schema_blob = load_entity_schema(path, name, raw["schema"])
        digest.update(schema_blob)
        props = set(schema["properties"])
        bad_names = sorted(p for p in props if not _is_snake(p))
        if bad_names:
            raise fail(path, where, f"field names must be snake_case: {', '.join(bad_names)}")
        file_name = raw.get("file", f"{name}.jsonl")
        if file_name in files or file_name == MANIFEST:
            raise fail(path, where, f"file {file_name!r} is already used")
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
                raise fail(
                    path, where, f"{setting} names fields the schema does not declare: {', '.join(unknown)}"
                )
        leaked = sorted(set(redact) & props)
        if leaked:
            raise fail(
                path, where, f"redacted fields must not be declared in the schema: {', '.join(leaked)}"
            )
        column_types = dict(raw.get("column_types", {}))
        unknown = sorted(set(column_types) - props)
        if unknown:
            raise fail(
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
                raise fail(
                    path,
                    f"entity {ent.name!r}",
                    f"relationship {rel.field!r} references unknown entity {rel.entity!r}{hint}",
                )
            if rel.target_field and rel.target_field != target.primary_key:
                raise fail(
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
    contract = Contract(
        path,
        data["name"],
        str(data["schema_version"]),
        digest.hexdigest(),
        tuple(resolved),
        omitted,
        parse_strictness(data.get("strictness")),
    )
    contract.load_order()  # rejects cycles early
    return contract


def _entity_named(message: str, data: dict[str, Any]) -> str:
    """``…: entities[2].references[1]: …`` as ``…: entities[2] (documents): references[1]: …``."""
    marker = ": entities["
    start = message.find(marker)
    end = message.find("]", start + len(marker)) if start >= 0 else -1
    index = message[start + len(marker) : end] if end > 0 else ""
    entities = data.get("entities")
    if not index.isdigit() or not isinstance(entities, list) or int(index) >= len(entities):
        return message
    raw = entities[int(index)]
    name = raw.get("name") if isinstance(raw, dict) else None
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", name):
        return message  # a name that is itself the problem is not repeated
    rest = message[end + 1 :]
    rest = ": " + rest[1:] if rest.startswith(".") else rest
    return f"{message[: end + 1]} ({name}){rest}"


def _field_names_v1(path: Path, data: Any) -> None:
    """A version-1 contract references top-level snake_case fields; say so plainly (the schema alone
    would only say a relationship is "not valid under any of the given schemas")."""
    entities = data.get("entities") if isinstance(data, dict) else None
    for i, ent in enumerate(entities if isinstance(entities, list) else []):
        rels = ent.get("relationships") if isinstance(ent, dict) else None
        for j, rel in enumerate(rels if isinstance(rels, list) else []):
            value = rel.get("field") if isinstance(rel, dict) else None
            if isinstance(value, str) and not _is_snake(value):
                name = ent.get("name", "?")
                raise ConfigError(
                    f"{path}: entities[{i}] ({name}): relationships[{j}].field: {value!r} is not a top-level "
                    "snake_case field; nested (a.b, a[].b), composite and camelCase references need "
                    "contract_version: 2 (docs/contract-format.md)"
                )


def _is_snake(name: str) -> bool:
    return re.fullmatch(SNAKE_CASE, name) is not None
