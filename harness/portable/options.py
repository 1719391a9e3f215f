"""The portable-export lane's ``options`` (schema ``offsite-options.schema.json``), parsed once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.config import check
from harness.offsite.settings import SCHEMA, OffsiteSettings, load_settings


@dataclass(frozen=True)
class StandIn:
    """``options.stand_in``: a portable-export scenario standing in for production (archive mode)."""

    scenario: str  # relative to the drilling scenario
    heartbeat_sql: str | None = None


@dataclass(frozen=True)
class PortableOptions:
    offsite: OffsiteSettings | None = None  # None: the archive stays local
    stand_in: StandIn | None = None


def parse_options(
    options: dict[str, Any], *, where: str, scenario_name: str, source_environment: str
) -> PortableOptions:
    """Check ``options`` against the lane's schema and type them; errors name ``options.<setting>``."""
    check(options, SCHEMA, where, root="options")
    offsite = load_settings(
        options, where=where, scenario_name=scenario_name, source_environment=source_environment
    )
    raw = options.get("stand_in")
    stand_in = StandIn(raw["scenario"], raw.get("heartbeat_sql")) if raw else None
    return PortableOptions(offsite, stand_in)
