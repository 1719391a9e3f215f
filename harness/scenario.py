"""Scenario files: YAML documents under ``scenarios/`` describing one drill each."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.schema_check import best_error, error_path, package_validator


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    lane: str
    data: dict[str, Any]
    sha256: str

    def section(self, key: str) -> dict[str, Any]:
        value = self.data.get(key) or {}
        assert isinstance(value, dict)
        return value

    def resolve(self, relative: str) -> Path:
        """A path from the scenario, relative to the scenario file."""
        return (self.path.parent / relative).resolve()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": str(self.path),
            "lane": self.lane,
            "sha256": f"sha256:{self.sha256}",
        }


def looks_like_scenario(path: Path) -> bool:
    """Cheap check used at collection time: a YAML file declaring ``scenario_version``."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return any(line.startswith("scenario_version:") for line in head.splitlines())


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path).resolve()
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read scenario {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(blob)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    error = best_error(package_validator("scenario.schema.json"), data)
    if error is not None:
        raise ConfigError(f"{path}: {error_path(error)}: {error.message}")
    return Scenario(path, data["name"], data["lane"], data, hashlib.sha256(blob).hexdigest())
