"""The weekly snapshot scenario through the real ``drill run`` (embedded moto: S3, KMS, Object Lock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from harness.schema_check import load_package_schema
from tests.conftest import REPO

SCENARIO = REPO / "scenarios" / "weekly" / "snapshot.yaml"


def _drill(tmp_path: Path, scenario: Path) -> tuple[subprocess.CompletedProcess[str], list[dict]]:  # type: ignore[type-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_", "AWS_", "DRILL_"))}
    env["PYTHONPATH"] = str(REPO)
    reports = tmp_path / "reports"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "run",
            str(scenario),
            "--evidence-dir",
            str(reports),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    docs = [json.loads(p.read_text()) for p in sorted(reports.glob("*.json"))]
    for doc in docs:
        jsonschema.validate(doc, load_package_schema("evidence.schema.json"))
    return result, docs


def test_weekly_snapshot_scenario_verifies(tmp_path: Path) -> None:
    result, [doc] = _drill(tmp_path, SCENARIO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert doc["verdict"] == "verified"
    assert {s["name"]: s["status"] for s in doc["steps"]} == dict.fromkeys(
        ["setup", "snapshot", "verify", "restore", "compare", "idempotent", "worm", "prune-dry-run"], "passed"
    )
    snap = doc["extra"]["snapshot"]
    assert snap["store"]["type"] == "s3" and snap["key"]["provider"] == "kms"
    assert snap["snapshot"]["lock"]["mode"] == "COMPLIANCE" and snap["snapshot"]["lock"]["locked"]
    assert snap["verify"]["chunks_checked"] == snap["verify"]["chunks_total"] > 5
    assert snap["compare"]["passed"] and snap["idempotent"]["changed"] is False
    assert sorted(snap["worm"]["refused"]) == ["delete", "overwrite", "server"]
    decisions = snap["prune"]["decisions"]
    assert len(decisions) == 7 and any(d["action"] == "delete" for d in decisions)
    assert decisions[0]["id"] == snap["snapshot"]["id"] and decisions[0]["action"] == "keep"
    assert len(snap["listing"]) == 7  # the dry run deleted nothing
    text = json.dumps(doc)
    assert "wrapped_key" not in text and "wrap_nonce" not in text and "records.csv" not in text
    assert doc["measurements"]["rto"]["met"] is True
    assert not (tmp_path / "work" / f"snapshot-{doc['run_id']}").exists()


def test_bad_options_name_the_scenario_and_setting(tmp_path: Path) -> None:
    data = yaml.safe_load(SCENARIO.read_text())
    data["options"]["store"]["object_lock"]["mode"] = "FOREVER"
    data["options"]["source"] = str(REPO / "fixtures" / "snapshot" / "tree")
    path = tmp_path / "scenarios" / "bad-snapshot.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result, [doc] = _drill(tmp_path, path)
    assert result.returncode == 2
    assert doc["verdict"] == "error"
    setup = doc["steps"][0]
    assert str(path) in setup["message"] and "options" in setup["message"] and "FOREVER" in setup["message"]
