"""Evidence fixtures: real evidence from real drill runs, signing keys, and weekly ledgers built from them.

The weekly ledgers are written through the real ``write_evidence`` (so the ledger links and the
DSSE envelopes are the harness's own), one copy of a real run per week with its own run id and
times; ``fail`` weeks are turned into failed runs, ``skip`` weeks are never written.
"""

from __future__ import annotations

import copy
import os
import secrets
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.clock import utc_iso
from harness.evidence.signing import generate_key
from harness.evidence.sinks import SinkSettings, write_evidence

REPO = Path(__file__).resolve().parents[2]
KEY_ENV = "DRILL_TEST_SIGNING_KEY"


def drill(
    *args: str, env: dict[str, str] | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """The real ``drill`` command, from this worktree (no GitHub job summary, no outer pytest)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    command = [sys.executable, "-m", "harness.cli", *args]
    full = {**inherited, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        command, capture_output=True, text=True, env=full, timeout=timeout, check=False, cwd=REPO
    )


@pytest.fixture(scope="session")
def real_docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Evidence of one real run of the portable-export and snapshot drills (scenario name -> doc)."""
    out = tmp_path_factory.mktemp("real-evidence")
    proc = drill(
        "run",
        "scenarios/weekly/portable-export.yaml",
        "scenarios/weekly/snapshot.yaml",
        "--evidence-dir",
        str(out / "reports"),
        "--work-dir",
        str(out / "work"),
        "--dataset-rows",
        "2000",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    docs = [orjson.loads(p.read_bytes()) for p in (out / "reports").glob("*.json")]
    return {d["scenario"]["name"]: d for d in docs}


@pytest.fixture(scope="session")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """(private PEM, public key file)."""
    private, public = generate_key()
    pub = tmp_path_factory.mktemp("keys") / "drill.pub"
    pub.write_bytes(public)
    return private, pub


@pytest.fixture
def signing(monkeypatch: pytest.MonkeyPatch, keypair: tuple[bytes, Path]) -> SinkSettings:
    monkeypatch.setenv(KEY_ENV, keypair[0].decode())
    return SinkSettings(sign_key_env=KEY_ENV)


START = datetime(2026, 3, 2, 5, 17, tzinfo=UTC)  # a Monday


def failed(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as a run whose data-proving step failed (later steps skipped)."""
    out = copy.deepcopy(doc)
    proving = next(s for s in out["steps"] if s["data_proving"])
    proving.update(status="failed", message="checksum mismatch in users.jsonl")
    seen = False
    for step in out["steps"]:
        if seen:
            step.update(status="skipped", message=f"skipped: depends on {proving['name']!r}, which failed")
        seen = seen or step is proving
    out.update(verdict="failed", exit_code=1, reason=f"step {proving['name']!r} failed: checksum mismatch")
    return out


def shifted(value: Any, by: timedelta) -> Any:
    """``value`` with every RFC 3339 UTC timestamp in it moved by ``by`` (a run at another time)."""
    if isinstance(value, dict):
        return {k: shifted(v, by) for k, v in value.items()}
    if isinstance(value, list):
        return [shifted(v, by) for v in value]
    if isinstance(value, str) and len(value) in (20, 27) and value[4] == "-" and value.endswith("Z"):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return utc_iso(moment + by, micro=len(value) == 27)
    return value


def weekly(
    ledger: Path,
    base: dict[str, Any],
    weeks: int,
    settings: SinkSettings,
    *,
    fail: Iterable[int] = (),
    skip: Iterable[int] = (),
    start: datetime = START,
) -> list[Path]:
    """Write ``weeks`` weekly copies of ``base`` into ``ledger``; the paths, in time order."""
    paths = []
    for week in range(weeks):
        if week in set(skip):
            continue
        finished = start + timedelta(days=7 * week, minutes=week)
        moved = shifted(base, finished - datetime.fromisoformat(base["finished_at"].replace("Z", "+00:00")))
        doc = failed(moved) if week in set(fail) else moved
        doc.update(
            run_id=secrets.token_hex(8),
            started_at=utc_iso(finished - timedelta(seconds=40), micro=True),
            finished_at=utc_iso(finished, micro=True),
            previous_evidence=None,
        )
        json_path, _ = write_evidence(doc, ledger, settings)
        paths.append(json_path)
    return paths
