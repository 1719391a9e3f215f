"""Version-2 contracts: any application's portable export, described without code.

Meaning checks, each naming the entity, the setting and what is wrong: every field a setting names
is a field of the entity's JSON Schema (the first step of a nested path), references name known
entities and match their key's width, cross-record rules name real entities and fields, secret
patterns compile as RE2 (linear time).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import re2

from harness.errors import ConfigError
from harness.files import MANIFEST
from harness.portable.contract.model import (
    Condition,
    Contract,
    CrossRecordRule,
    Entity,
    Omitted,
    Relationship,
    SecretRules,
)
from harness.portable.contract.parts import fail, load_entity_schema, parse_strictness
from harness.portable.contract.paths import FieldPath
from harness.portable.contract.profile import parse_profile


def _condition(raw: dict[str, Any] | None, where: str) -> Condition | None:
    if raw is None:
        return None
    return Condition(FieldPath.parse(raw["field"], f"{where}.when.field"), raw["equals"])


def _reference(raw: dict[str, Any], where: str) -> Relationship:
    texts = raw.get("fields") or [raw["field"]]
    paths = tuple(FieldPath.parse(t, f"{where}.field") for t in texts)
    entity_by = None
    if "entity_by" in raw:
        by = raw["entity_by"]
        entity_by = (
            FieldPath.parse(by["field"], f"{where}.entity_by.field"),
            tuple(sorted(by["map"].items())),
        )
    elif "entity" not in raw:
        raise ConfigError(f"{where}: name the target: entity, or entity_by for a polymorphic reference")
    return Relationship(
        field=paths[0].text,
        entity=raw.get("entity", ""),
        target_field="",
        nullable=bool(raw.get("nullable", False)),
        array=False,
        paths=paths,
        when=_condition(raw.get("when"), where),
        entity_by=entity_by,
    )


def _entity(path: Path, raw: dict[str, Any], index: int, absent_default: bool, digest: Any) -> Entity:
    name = raw["name"]
    where = f"{path}: entities[{index}] ({name})"
    schema, blob = load_entity_schema(path, name, raw["schema"])
    digest.update(blob)
    props = set(schema["properties"])
    key = raw["primary_key"]
    key = (key,) if isinstance(key, str) else tuple(key)
    refs = tuple(_reference(r, f"{where}: references[{i}]") for i, r in enumerate(raw.get("references", [])))
    timestamps = dict(raw.get("timestamps", {}))
    groups = tuple(tuple(g) for g in raw.get("at_least_one_of", []))
    unique = tuple(tuple(u) for u in raw.get("unique", []))
    named = {
        "primary_key": list(key),
        "enums": list(raw.get("enums", {})),
        "timestamps": list(timestamps),
        "column_types": list(raw.get("column_types", {})),
        "columns": list(raw.get("columns", {})),
        "unique": [f for u in unique for f in u],
        "at_least_one_of": [f for g in groups for f in g],
        "references": [p.head for r in refs for p in r.paths],
    }
    for setting, fields in named.items():
        unknown = sorted(set(fields) - props)
        if unknown:
            raise ConfigError(
                f"{where}: {setting} names fields the schema does not declare: {', '.join(unknown)}"
            )
    columns = dict(raw.get("columns", {}))
    restored = [columns.get(f, f) for f in sorted(props)]
    shared = sorted({c for c in restored if restored.count(c) > 1})
    if shared:
        raise ConfigError(f"{where}: columns: two fields would restore into one column: {', '.join(shared)}")
    redact = tuple(raw.get("redact", []))
    leaked = sorted(set(redact) & props)
    if leaked:
        raise ConfigError(
            f"{where}: redact: redacted fields must not be declared in the schema: {', '.join(leaked)}"
        )
    scan = raw.get("secret_scan", {})
    file = raw.get("file", f"{name}.jsonl")
    if file == MANIFEST:
        raise ConfigError(f"{where}: file: {MANIFEST} is the manifest's name")
    return Entity(
        name=name,
        file=file,
        table=raw.get("table", name.lower()),
        query=None,
        primary_key=key[0],
        schema=schema,
        redact=redact,
        enums={k: tuple(v) for k, v in raw.get("enums", {}).items()},
        timestamps=tuple(timestamps),
        relationships=refs,
        at_least_one_of=groups,
        secret_scan=scan.get("enabled", True),
        secret_allow_fields=tuple(scan.get("allow_fields", [])),
        column_types=dict(raw.get("column_types", {})),
        key=key,
        unique=unique,
        timestamp_forms=timestamps,
        columns=columns,
        absent_means_null=bool(raw.get("absent_means_null", absent_default)),
    )


def _check_references(path: Path, entities: list[Entity], omitted: set[str]) -> None:
    by_name = {e.name: e for e in entities}
    for i, ent in enumerate(entities):
        for j, rel in enumerate(ent.relationships):
            where = f"{path}: entities[{i}] ({ent.name}): references[{j}]"
            for target_name in rel.targets():
                target = by_name.get(target_name)
                if target is None:
                    hint = " (it is listed under 'omitted')" if target_name in omitted else ""
                    raise ConfigError(f"{where}: references unknown entity {target_name!r}{hint}")
                if len(target.key_fields) != len(rel.paths):
                    raise ConfigError(
                        f"{where}: {len(rel.paths)} field(s) for the key of {target_name!r}, which has "
                        f"{len(target.key_fields)} ({', '.join(target.key_fields)})"
                    )


def _rules(path: Path, raw: list[dict[str, Any]], entities: list[Entity]) -> tuple[CrossRecordRule, ...]:
    by_name = {e.name: e for e in entities}
    out: list[CrossRecordRule] = []
    for i, rule in enumerate(raw):
        where = f"{path}: rules[{i}] ({rule['id']})"
        spec = rule.get("count") or rule["requires"]
        kind = "count" if "count" in rule else "requires"
        related = spec.get("children") or spec.get("related")
        for name in (spec["entity"], related["entity"]):
            if name not in by_name:
                raise ConfigError(f"{where}: no entity {name!r}")
        child = by_name[related["entity"]]
        if not any(
            p.text == related["field"]
            for r in child.relationships
            for p in r.paths
            if spec["entity"] in r.targets()
        ):
            raise ConfigError(
                f"{where}: {related['entity']}.{related['field']} is not a reference to {spec['entity']!r} "
                "(declare it under the entity's references)"
            )
        if kind == "count" and spec["field"] not in by_name[spec["entity"]].schema["properties"]:
            raise ConfigError(f"{where}: {spec['entity']} has no field {spec['field']!r}")
        out.append(
            CrossRecordRule(
                id=rule["id"],
                message=rule["message"],
                kind=kind,
                entity=spec["entity"],
                field=spec.get("field", ""),
                when=_condition(spec.get("when"), where),
                related_entity=related["entity"],
                related_field=related["field"],
            )
        )
    ids = [r.id for r in out]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: rules: ids must be unique")
    return tuple(out)


def _secret_rules(path: Path, raw: dict[str, Any] | None) -> SecretRules:
    raw = raw or {}
    rules = SecretRules(tuple(raw.get("key_patterns", [])), tuple(raw.get("value_patterns", [])))
    for kind, patterns in (("key_patterns", rules.key_patterns), ("value_patterns", rules.value_patterns)):
        for i, pattern in enumerate(patterns):
            try:
                re2.compile(pattern)
            except re2.error:
                raise ConfigError(
                    f"{path}: secret_rules.{kind}[{i}]: not a valid RE2 pattern "
                    "(no backreferences or lookaround)"
                ) from None
    return rules


def load_v2(path: Path, data: dict[str, Any], blob: bytes) -> Contract:
    digest = hashlib.sha256(blob)
    names = [e["name"] for e in data["entities"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{path}: entities: names must be unique; repeated: {', '.join(dupes)}")
    omitted = tuple(Omitted(o["entity"], o["reason"]) for o in data.get("omitted", []))
    absent = bool(data.get("absent_means_null", True))
    entities = [_entity(path, raw, i, absent, digest) for i, raw in enumerate(data["entities"])]
    files = [e.file for e in entities]
    if len(set(files)) != len(files):
        raise fail(path, "entities", "two entities use the same file")
    _check_references(path, entities, {o.entity for o in omitted})
    contract = Contract(
        path=path,
        name=data["name"],
        schema_version=str(data["schema_version"]),
        sha256=digest.hexdigest(),
        entities=tuple(entities),
        omitted=omitted,
        strictness=parse_strictness(data.get("strictness")),
        version=2,
        profile=parse_profile(data.get("manifest"), str(path)),
        rules=_rules(path, data.get("rules", []), entities),
        secret_rules=_secret_rules(path, data.get("secret_rules")),
    )
    return contract
