"""Pieces both contract versions load the same way: the entity's JSON Schema, the strictness
profile, and errors that name the contract file and the setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from harness.errors import ConfigError
from harness.portable.contract.model import Strictness
from harness.schema_patterns import PatternError, check_schema_patterns, validator_class


def fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}")


def load_entity_schema(path: Path, ent_name: str, raw: Any) -> tuple[dict[str, Any], bytes]:
    if isinstance(raw, dict):
        schema = raw
        blob = json.dumps(raw, sort_keys=True).encode()
    else:
        schema_path = (path.parent / str(raw)).resolve()
        if not schema_path.is_file():
            raise fail(
                path, f"entity {ent_name!r}", f"schema file {raw!r} not found (looked at {schema_path})"
            )
        blob = schema_path.read_bytes()
        try:
            schema = json.loads(blob)
        except ValueError as exc:
            raise fail(
                path, f"entity {ent_name!r}", f"schema file {schema_path} is not JSON: {exc}"
            ) from None
        if not isinstance(schema, dict):
            raise fail(path, f"entity {ent_name!r}", f"schema file {schema_path} must hold a JSON object")
    try:
        check_schema_patterns(schema)  # before jsonschema's own check, which runs Python's re
    except PatternError as exc:
        raise fail(path, f"entity {ent_name!r}", f"schema {exc}") from None
    cls = validator_class(schema)
    try:
        cls.check_schema(schema, format_checker=cls.FORMAT_CHECKER)
    except jsonschema.SchemaError as exc:
        raise fail(path, f"entity {ent_name!r}", f"invalid JSON Schema: {exc.message}") from None
    if not isinstance(schema.get("properties"), dict) or not schema["properties"]:
        raise fail(path, f"entity {ent_name!r}", "schema must declare the record's fields under 'properties'")
    return schema, blob


def parse_strictness(strict: dict[str, Any] | None) -> Strictness:
    strict = strict or {}
    return Strictness(
        max_record_bytes=int(strict.get("max_record_bytes", Strictness.max_record_bytes)),
        max_depth=int(strict.get("max_depth", Strictness.max_depth)),
        clock_skew_seconds=float(strict.get("clock_skew_seconds", Strictness.clock_skew_seconds)),
        severities=tuple(sorted((strict.get("severities") or {}).items())),
    )
