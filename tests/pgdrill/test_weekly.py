"""Both default database scenarios through the real `drill run` command."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from harness.schema_check import load_package_schema
from tests.conftest import REPO
from tests.pgdrill.test_restore_check import _drill


def test_weekly_database_drills_verify(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    scenarios = [str(REPO / "scenarios" / "weekly" / f) for f in ("pg-roundtrip.yaml", "pitr.yaml")]
    result = _drill(
        "run", *scenarios, "--dataset-rows", "2000", "--evidence-dir", str(reports), "--work-dir",
        str(tmp_path / "work"), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    docs = {d["scenario"]["name"]: d for d in (json.loads(p.read_text()) for p in reports.glob("*.json"))}
    schema = load_package_schema("evidence.schema.json")
    for doc in docs.values():
        jsonschema.validate(doc, schema)
        assert doc["verdict"] == "verified"
        assert doc["measurements"]["rto"]["met"] is True and doc["measurements"]["rpo"]["met"] is True
    rt = docs["pg-roundtrip"]["extra"]["pg_roundtrip"]
    assert rt["pre"]["row_count"] == rt["post"]["row_count"] == 400
    assert rt["pre"]["chain_head_hash"] == rt["post"]["chain_head_hash"]
    assert rt["post"]["first_break_id"] == "" and rt["post"]["verifier_walked"] == rt["pre"]["row_count"]
    pitr = docs["pitr"]["extra"]["pitr"]
    assert pitr["found"] == {"rows": 20, "missing_before_target": [], "present_after_target": []}
    assert docs["pitr"]["measurements"]["rpo"]["measured_seconds"] > 0
    # The weekly drill recovers from the copy that came back from S3 (embedded moto), not the local one.
    assert pitr["recovery"]["source"] == "offsite" and pitr["recovery"]["used_fetched_copy"] is True
    offsite = pitr["offsite"]
    assert offsite["provider"] == "embedded" and offsite["location"].startswith(
        "s3://drill-pitr-archive/pitr/drill/"
    )
    assert offsite["base_backup"]["server_side_encryption"]["algorithm"] == "aws:kms"
    assert offsite["wal"]["segments"] >= 3 and offsite["fetch"]["wal"]["same_as_shipped"] is True
    assert set(pitr["recovery"]["wal_restored_from_archive"]) <= {
        o["name"] for o in offsite["wal"]["objects"]
    }
    work = tmp_path / "work"
    assert not work.exists() or not any(work.iterdir())  # verified runs leave no work files
