"""The standalone commands, each on its own against real databases and real archives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ProviderError
from harness.postgres.binaries import find_bindir
from harness.postgres.database import Database
from tests.conftest import REFERENCE_CONTRACT

CONTRACT = str(REFERENCE_CONTRACT)


@pytest.fixture
def exported(source_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``drill export --archive`` of a private copy of the reference database."""
    monkeypatch.setenv("DRILL_TEST_SOURCE_DSN", source_db.conninfo)
    archive = tmp_path / "export.tar.gz"
    args = ["export", "--contract", CONTRACT, "--dsn-env", "DRILL_TEST_SOURCE_DSN", "--environment", "drill"]
    code = main([*args, "--out", str(tmp_path / "export"), "--archive", str(archive)])
    assert code == 0
    return archive


def test_export_then_validate_archive_as_json(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(
        ["validate", str(exported), "--contract", CONTRACT, "--work-dir", str(tmp_path / "w"), "--json"]
    )
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out[out.index("{") :])
    assert summary["passed"] is True and summary["records_checked"] > 0


def test_corrupt_archive_exits_1_and_leaves_no_export(
    exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])
    work = tmp_path / "w"
    code = main(["validate", str(broken), "--contract", CONTRACT, "--work-dir", str(work)])
    assert code == 1
    assert "broken.tar.gz" in capsys.readouterr().err
    assert not any(p.is_dir() and (p / "manifest.json").exists() for p in work.glob("*"))


def test_archive_command_is_deterministic(exported: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert main(["archive", str(tmp_path / "export"), "-o", str(first)]) == 0
    assert main(["archive", str(tmp_path / "export"), "-o", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()


def test_dry_run_then_gated_restore(
    exported: Path,
    scratch_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DRILL_TEST_TARGET_DSN", scratch_db.conninfo)
    base = [str(exported), "--contract", CONTRACT, "--work-dir", str(tmp_path / "w")]
    target = ["--target-dsn-env", "DRILL_TEST_TARGET_DSN"]

    assert main(["dry-run", *base, *target, "--target-environment", "scratch", "--json"]) == 0
    out = capsys.readouterr().out
    plan = json.loads(out[out.index("{") :])["dry_run"]
    assert plan["would_insert"] > 0 and plan["would_update"] == 0

    # Undeclared environment = production: refused, nothing written.
    assert main(["restore", *base, *target]) == 2
    assert "production" in capsys.readouterr().err
    with scratch_db.connect() as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (0,)

    assert main(["restore", *base, *target, "--target-environment", "scratch"]) == 0
    with scratch_db.connect() as conn:
        row = conn.execute("SELECT count(*) FROM users").fetchone()
    assert row is not None and row[0] > 0


def test_missing_dsn_variable_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["export", "--contract", CONTRACT, "--dsn-env", "DRILL_TEST_UNSET_DSN", "--out", str(tmp_path / "x")]
    )
    assert code == 2
    assert "DRILL_TEST_UNSET_DSN" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_missing_server_binaries_name_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_PG_BINDIR", str(tmp_path))
    with pytest.raises(ProviderError, match=r"DRILL_PG_BINDIR=.*apt-get install postgresql"):
        find_bindir()


def test_an_approved_production_restore_records_the_reference_in_evidence(
    exported: Path,
    scratch_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from harness.evidence import validate_evidence

    monkeypatch.setenv("DRILL_TEST_TARGET_DSN", scratch_db.conninfo)
    args = [str(exported), "--contract", CONTRACT, "--work-dir", str(tmp_path / "w")]
    args += ["--target-dsn-env", "DRILL_TEST_TARGET_DSN", "--target-environment", "production"]
    reports = tmp_path / "reports"
    assert main(["restore", *args, "--approve-production", "CHG-1234", "--evidence-dir", str(reports)]) == 0
    assert "evidence: " in capsys.readouterr().out
    [path] = reports.glob("production-restore-*.json")
    doc = json.loads(path.read_text())
    validate_evidence(doc)
    assert doc["verdict"] == "verified"
    assert doc["restore"]["approval_reference"] == "CHG-1234"
    assert doc["target"]["environment"] == "production"
    assert [s["name"] for s in doc["steps"]] == ["validate", "restore"]
    assert "CHG-1234" not in json.dumps(doc["target"])
    assert (reports / path.name.replace(".json", ".md")).is_file()


def test_drill_run_starts_initdb_early_only_where_a_scenario_may_need_postgres(tmp_path: Path) -> None:
    from harness.cli import _may_use_postgres

    weekly = Path(__file__).resolve().parents[1] / "scenarios" / "weekly"
    assert _may_use_postgres([str(weekly)])
    assert _may_use_postgres([str(weekly / "pitr.yaml")])
    assert not _may_use_postgres([str(weekly / "snapshot.yaml"), f"{weekly / 'snapshot.yaml'}::setup"])
    gate = tmp_path / "gate.yaml"
    gate.write_text("scenario_version: 1\nlane: 'least-privilege-gate'  # a comment\n")
    assert not _may_use_postgres([str(gate)])
    unsure = tmp_path / "unsure.yaml"
    unsure.write_bytes(b"scenario_version: 1\n\xff\xfe no lane line\n")
    assert _may_use_postgres([str(gate), str(unsure)])  # cannot tell: start it (costs only time)
