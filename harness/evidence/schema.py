"""Evidence documents against ``harness/schemas/evidence.schema.json``."""

from __future__ import annotations

from typing import Any

from harness.schema_check import best_error, error_path, package_validator


def validate_evidence(doc: dict[str, Any]) -> None:
    """Raise ValueError naming the first place where ``doc`` does not match the evidence schema."""
    error = best_error(package_validator("evidence.schema.json"), doc)
    if error is not None:
        raise ValueError(f"evidence does not match its schema at {error_path(error)}: {error.message}")
