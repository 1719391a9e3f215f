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

#: (validator class, schema file bytes) that passed ``check_schema`` (its metaschema walk is most of
#: a contract's load time, and a drill run loads the same contract several times). Only passes, and
#: only schemas parsed from those very bytes (an inline schema is checked every time).
_CHECKED: set[tuple[type, bytes]] = set()
_CHECKED_MAX = 1024


def fail(path: Path, where: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {message}")


def load_entity_schema(path: Path, ent_name: str, raw: Any) -> tuple[dict[str, Any], bytes]:
    parsed_from_blob = not isinstance(raw, dict)
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
    key = (cls, blob)
    if not (parsed_from_blob and key in _CHECKED):  # the same file bytes: the same schema, checked once
        try:
            cls.check_schema(schema, format_checker=cls.FORMAT_CHECKER)
        except jsonschema.SchemaError as exc:
            raise fail(path, f"entity {ent_name!r}", f"invalid JSON Schema: {exc.message}") from None
        if parsed_from_blob and len(_CHECKED) < _CHECKED_MAX:
            _CHECKED.add(key)
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
