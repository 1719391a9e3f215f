"""Lane options: the scenario's ``options:`` validated against a lane's own JSON Schema."""

from __future__ import annotations

from typing import Any

from harness.dataset.chain import ChainSpec
from harness.errors import ConfigError
from harness.scenario import Scenario
from harness.schema_check import best_error, package_validator


def lane_options(scenario: Scenario, schema_name: str) -> dict[str, Any]:
    """``options`` of ``scenario``; ConfigError naming the file and the setting when invalid."""
    options = scenario.data.get("options") or {}
    return validate_options(options, schema_name, str(scenario.path))


#: Schemas a lane's options schema may ``$ref`` (pitr's ``wal_offsite`` reuses the offsite pieces).
SHARED_SCHEMAS = ("offsite-options.schema.json",)


def validate_options(options: Any, schema_name: str, source: str) -> dict[str, Any]:
    error = best_error(package_validator(schema_name, SHARED_SCHEMAS), options)
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
