"""Smoke queries: read-only checks a restored target must pass before it counts as usable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from harness.errors import ConfigError, VerificationFailed
from harness.postgres.database import Database
from harness.postgres.errors import server_error


@dataclass(frozen=True)
class SmokeResult:
    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


def _scalar(db: Database, query: str) -> Any:
    with db.connect() as conn:
        conn.execute("BEGIN READ ONLY")
        row = conn.execute(query.encode()).fetchone()
        conn.rollback()
    value = row[0] if row else None
    return float(value) if isinstance(value, Decimal) else value


def _check(value: Any, expect: dict[str, Any], source_value: Any) -> tuple[bool, str]:
    problems = []
    if "equals" in expect and value != expect["equals"]:
        problems.append(f"expected {expect['equals']!r}")
    if "equals_source" in expect and value != source_value:
        problems.append(f"source has {source_value!r}")
    if "min" in expect and not (isinstance(value, int | float) and value >= expect["min"]):
        problems.append(f"expected at least {expect['min']}")
    if "max" in expect and not (isinstance(value, int | float) and value <= expect["max"]):
        problems.append(f"expected at most {expect['max']}")
    if problems:
        return False, f"got {value!r}; " + ", ".join(problems)
    return True, f"got {value!r}"


def smoke_without_source(target: Database, checks: Sequence[dict[str, Any]], where: str) -> list[SmokeResult]:
    """Run ``checks`` on a restore with no live source to compare with: ``equals_source`` is a
    configuration error naming ``where``."""
    for i, check in enumerate(checks):
        if check["expect"].get("equals_source"):
            raise ConfigError(f"{where}: smoke[{i}].expect.equals_source: there is no source here")
    return run_smoke(target, checks, source=None)


def judged(results: Sequence[SmokeResult]) -> str:
    """The step message when every query passed; VerificationFailed naming each one that did not."""
    failed = [r for r in results if not r.passed]
    if failed:
        raise VerificationFailed("; ".join(f"{r.name}: {r.detail}" for r in failed))
    return f"{len(results)} smoke queries passed"


def run_smoke(
    target: Database, checks: Sequence[dict[str, Any]], *, source: Database | None
) -> list[SmokeResult]:
    """Run each check (``name``, ``sql``, ``expect``) in a read-only transaction on the target."""
    results = []
    for check in checks:
        try:
            value = _scalar(target, check["sql"])
            source_value = (
                _scalar(source, check["sql"])
                if source is not None and check["expect"].get("equals_source")
                else None
            )
        except psycopg.Error as exc:
            results.append(SmokeResult(check["name"], False, f"query failed: {server_error(exc)}"))
            continue
        passed, detail = _check(value, check["expect"], source_value)
        results.append(SmokeResult(check["name"], passed, detail))
    return results
