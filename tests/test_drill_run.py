"""End to end: `drill run` over scenario files, through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from harness.postgres.database import Database
from harness.schema_check import load_package_schema
from tests.conftest import REFERENCE_CONTRACT, REPO


def _drill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _scenario(tmp_path: Path, name: str, **overrides: object) -> Path:
    import yaml

    data = yaml.safe_load((REPO / "scenarios" / "weekly" / "portable-export.yaml").read_text())
    data["name"] = name
    data["contract"] = str(REFERENCE_CONTRACT)
    data["source"]["dataset"]["rows"] = 500
    data.update(overrides)
    path = tmp_path / "scenarios" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _evidence(reports: Path) -> list[dict]:  # type: ignore[type-arg]
    docs = [json.loads(p.read_text()) for p in sorted(reports.glob("*.json"))]
    schema = load_package_schema("evidence.schema.json")
    for doc in docs:
        jsonschema.validate(doc, schema)
    return docs


def test_default_scenario_verifies(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = _drill(
        "run",
        str(REPO / "scenarios" / "weekly" / "portable-export.yaml"),
        "--dataset-rows",
        "1000",
        "--evidence-dir",
        str(reports),
        "--work-dir",
        str(tmp_path / "work"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [doc] = _evidence(reports)
    assert doc["verdict"] == "verified"
    assert [s["status"] for s in doc["steps"]] == ["passed"] * 12
    # the offsite copy (embedded moto, no Docker, no account) is the archive of record
    assert doc["source"]["archive"]["uri"].startswith("s3://drill-offsite-archive/portable-export/drill/")
    assert doc["source"]["archive"]["version_id"] == doc["extra"]["offsite"]["upload"]["version_id"]
    assert doc["extra"]["offsite"]["fetch"]["sha256"] == doc["source"]["archive"]["sha256"]
    assert doc["comparison"]["passed"] and doc["dry_run"]["zero_write_proof"]["proven"]
    assert doc["measurements"]["rto"]["met"] is True
    assert "VERIFIED" in result.stdout
    assert not (tmp_path / "work" / f"portable-export-{doc['run_id']}").exists()  # cleaned when verified
    assert list(reports.glob("*.md"))


def test_failed_validation_exits_1_and_skips_later_steps(tmp_path: Path) -> None:
    """A contract stricter than the data: validation fails, so nothing downstream may pass."""
    import shutil

    contract_dir = tmp_path / "contract"
    shutil.copytree(REFERENCE_CONTRACT.parent, contract_dir)
    schema_path = contract_dir / "schemas" / "users.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["locale"] = {"type": "string", "pattern": "^xx$"}
    schema_path.write_text(json.dumps(schema))
    scenario = _scenario(tmp_path, "strict", contract=str(contract_dir / "contract.yaml"))
    reports = tmp_path / "reports"
    result = _drill(
        "run", str(scenario), "--evidence-dir", str(reports), "--work-dir", str(tmp_path / "w"), cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout[-3000:]
    [doc] = _evidence(reports)
    status = {s["name"]: s["status"] for s in doc["steps"]}
    assert status["validate"] == "failed"
    assert {status[s] for s in ("dry-run", "restore", "smoke", "re-export-compare")} == {"skipped"}
    assert doc["validation"]["findings"][0]["rule"] == "record.schema"
    assert "[validate] verification failed" in result.stdout
    assert (tmp_path / "w" / f"strict-{doc['run_id']}").exists()  # kept for the on-call engineer


def test_broken_scenario_exits_2(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "broken", contract=str(tmp_path / "missing.yaml"))
    result = _drill("run", str(scenario), "--evidence-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot read contract" in result.stdout
    [doc] = _evidence(tmp_path / "r")
    assert doc["verdict"] == "error"


def test_invalid_scenario_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "scenarios" / "bad.yaml"
    path.parent.mkdir()
    path.write_text("scenario_version: 1\nname: bad\nlane: portable-export\nsmoke: nope\n")
    result = _drill("run", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "smoke" in result.stdout and "bad.yaml" in result.stdout


def test_k_selects_steps_and_unselected_prerequisites_skip(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, "partial")
    reports = tmp_path / "reports"
    result = _drill(
        "run", str(scenario), "-k", "seed or export", "--evidence-dir", str(reports), cwd=tmp_path
    )
    # nothing data-proving ran, so the drill is not verified
    assert result.returncode == 1, result.stdout[-2000:]
    [doc] = _evidence(reports)
    assert doc["reason"] == "no data-proving check passed, so nothing was verified"


def test_production_target_is_never_written_by_a_drill(
    tmp_path: Path, scratch_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRILL_TEST_PROD_DSN", scratch_db.conninfo)
    scenario = _scenario(
        tmp_path,
        "prod",
        target={
            "postgres": {"provider": "external", "dsn_env": "DRILL_TEST_PROD_DSN"},
            "environment": "production",
        },
    )
    reports = tmp_path / "reports"
    result = _drill("run", str(scenario), "--evidence-dir", str(reports), cwd=tmp_path)
    assert result.returncode == 2, result.stdout[-2000:]
    assert scratch_db.password is not None and scratch_db.password not in result.stdout + result.stderr
    [doc] = _evidence(reports)
    status = {s["name"]: s for s in doc["steps"]}
    assert status["dry-run"]["status"] == "passed"  # reading production is allowed
    assert (
        status["restore"]["status"] == "error"
        and "never restore into production" in status["restore"]["message"]
    )
    with scratch_db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)
    assert scratch_db.password not in json.dumps(doc)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["restore", "--help"]])
def test_help_teaches(args: list[str], tmp_path: Path) -> None:
    result = _drill(*args, cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: drill" in result.stdout


def test_run_with_missing_path_exits_2(tmp_path: Path) -> None:
    result = _drill("run", "nowhere", cwd=tmp_path)
    assert result.returncode == 2 and "no such scenario" in result.stderr
