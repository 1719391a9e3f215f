"""Lane options: the scenario's ``options:`` validated against a lane's own JSON Schema."""

from __future__ import annotations

from typing import Any

import jsonschema
from referencing import Registry, Resource

from harness.contract import load_package_schema
from harness.dataset.chain import ChainSpec
from harness.errors import ConfigError
from harness.scenario import Scenario


def lane_options(scenario: Scenario, schema_name: str) -> dict[str, Any]:
    """``options`` of ``scenario``; ConfigError naming the file and the setting when invalid."""
    options = scenario.data.get("options") or {}
    return validate_options(options, schema_name, str(scenario.path))


#: Schemas a lane's options schema may ``$ref`` (pitr's ``wal_offsite`` reuses the offsite pieces).
SHARED_SCHEMAS = ("offsite-options.schema.json",)


def validate_options(options: Any, schema_name: str, source: str) -> dict[str, Any]:
    shared = [load_package_schema(name) for name in SHARED_SCHEMAS]
    registry: Registry[Any] = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in shared)
    validator = jsonschema.Draft202012Validator(load_package_schema(schema_name), registry=registry)
    error = jsonschema.exceptions.best_match(validator.iter_errors(options))
    if error is not None:
        where = "options" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise ConfigError(f"{source}: {where}: {error.message}")
    assert isinstance(options, dict)
    return options


def chain_option(value: Any) -> ChainSpec | None:
    """``chain:`` as a spec: absent means the reference chain, ``false`` means no chain."""
    if value is False:
        return None
    return ChainSpec.from_options(value or {})
