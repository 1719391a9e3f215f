"""PITR from a real pgBackRest repository: a real stanza with a real ``archive_command =
pgbackrest archive-push`` on an embedded cluster, rows before and after a target, restored by
``pgbackrest restore --type=time`` into a scratch data directory, started and verified; the
repository is never touched. Faults: a WAL segment missing before the target, a target before
the oldest backup, a stale newest backup, a heartbeat table missing or empty."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError, ProviderError, VerificationFailed
from harness.evidence import validate_evidence
from harness.lanes.runner import run_step
from harness.pgdrill.pgbackrest import parse_info
from harness.pgdrill.standin import (
    full_backup,
    pgbackrest_stand_in,
    switch_and_wait,
    write_around_target,
)
from tests.conftest import REPO
from tests.pgdrill.helpers import make_lane, require_pgbackrest, run, statuses, write_scenario

WEEKLY = REPO / "scenarios" / "weekly" / "pgbackrest.yaml"


@dataclass(frozen=True)
class Repository:
    """A stopped stand-in's stanza: what a team's repository looks like to a drill."""

    config: Path
    stanza: str
    root: Path  # the posix repository
    target: datetime
    label: str
    rows_before: int


def tree_state(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file under ``root``: size, mtime and SHA-256 (a drill must change none of them)."""
    return {
        str(p.relative_to(root)): (
            p.stat().st_size,
            p.stat().st_mtime_ns,
            hashlib.sha256(p.read_bytes()).hexdigest(),
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def repository() -> Iterator[Repository]:
    require_pgbackrest()
    with pgbackrest_stand_in(stanza="team") as stand_in:
        label = full_backup(stand_in)
        target = write_around_target(stand_in, 12, 8)
        stand_in.cluster.stop()  # a quiet repository: nothing archives into it during the drills
        yield Repository(stand_in.config, stand_in.stanza, stand_in.cluster.base / "repo", target, label, 12)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def team_scenario(tmp_path: Path, repo: Repository, name: str, **extra: Any) -> Path:
    options: dict[str, Any] = {
        "pgbackrest": {"stanza": repo.stanza, "config": str(repo.config)},
        "target": iso(repo.target),
        "restore": {"database": "drill_app"},
    }
    options.update(extra.pop("options", {}))
    sections = {
        "objectives": {"rto_seconds": 3600, "rpo_seconds": 3600, "max_backup_age_seconds": 90000},
        "heartbeat": {"table": "drill_heartbeat", "column": "beat_at", "database": "drill_app"},
        "smoke": [
            {
                "name": "marks",
                "sql": "SELECT count(*) FROM drill_stand_in_marks",
                "expect": {"equals": repo.rows_before},
            }
        ],
        **extra,
    }
    return write_scenario(tmp_path, name, "pitr-archive", options=options, **sections)


def test_a_team_repository_is_restored_by_pgbackrest_to_the_target_and_never_touched(
    repository: Repository, tmp_path: Path
) -> None:
    before = tree_state(repository.root)
    _, doc = run(team_scenario(tmp_path, repository, "team"), tmp_path)
    assert doc["verdict"] == "verified", doc["reason"]
    status = statuses(doc)
    assert status.pop("stand-in") == "skipped" and status.pop("verify-target") == "skipped"
    assert set(status.values()) == {"passed"}, status
    assert tree_state(repository.root) == before  # restore, verify, repo-ls and archive-get only read
    section = doc["extra"]["pitr_archive"]
    assert section["source"]["chosen"]["label"] == repository.label
    assert section["major"] == "15"
    assert section["restored"]["wal_restored_from_archive"]  # recovery replayed WAL through archive-get
    rpo = doc["measurements"]["rpo"]
    assert (
        rpo["method"] == "heartbeat" and 0 <= rpo["measured_seconds"] < 1.0
    )  # the beat just before the target
    assert doc["measurements"]["freshness"]["backup"] == f"pgBackRest backup {repository.label} (stanza team)"
    conf = Path(doc["extra"]["pitr_archive"]["restored"]["data"]) if False else None
    assert conf is None
    validate_evidence(doc)


def test_the_restored_server_has_none_of_the_backups_configuration(
    repository: Repository, tmp_path: Path
) -> None:
    lane, evidence = make_lane(team_scenario(tmp_path, repository, "config"), tmp_path)
    try:
        for spec in lane.steps:
            run_step(lane, spec, evidence)
            if spec.name == "recover":
                break
        assert evidence.step("recover").status == "passed", evidence.step("recover").message
        restored = lane.restored  # type: ignore[attr-defined]
        conf = (restored.data / "postgresql.auto.conf").read_text()
        assert "archive-push" not in conf and "archive_mode = 'off'" in conf
        assert conf.rstrip().endswith("listen_addresses = ''")  # no TCP listener at all
        assert (restored.data / "postgresql.auto.conf.from-backup").is_file()
        assert (restored.data / "pg_hba.conf").read_text().strip().endswith("local all all trust")
        with restored.database("drill_app").connect() as conn:
            mode = conn.execute("SHOW archive_mode").fetchone()
            listen = conn.execute("SHOW listen_addresses").fetchone()
        assert mode == ("off",) and listen == ("",)
    finally:
        lane.close("error")


def test_the_weekly_scenario_builds_a_real_stanza_and_drills_it(tmp_path: Path) -> None:
    require_pgbackrest()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    env["PYTHONPATH"] = str(REPO)
    reports = tmp_path / "reports"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(WEEKLY), "--dataset-rows", "300"]
    cmd += ["--evidence-dir", str(reports), "--work-dir", str(tmp_path / "work")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    doc = json.loads(next(reports.glob("*.json")).read_text())
    assert set(statuses(doc).values()) == {"passed"}
    assert "archive_command = pgbackrest archive-push" in statuses_messages(doc)["stand-in"]
    assert statuses_messages(doc)["verify-target"].startswith(
        "exactly the 20 rows committed before the target"
    )
    assert doc["measurements"]["rpo"]["method"] == "heartbeat"
    assert doc["measurements"]["freshness"]["met"] is True
    summary = next(reports.glob("*.md")).read_text()
    assert "- RPO (measured, newest heartbeat in `drill_heartbeat`" in summary
    assert "- Freshness: newest backup `pgBackRest backup " in summary


def statuses_messages(doc: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["message"] for s in doc["steps"]}


def test_a_target_before_the_oldest_backup_is_refused_naming_it(
    repository: Repository, tmp_path: Path
) -> None:
    early = iso(repository.target - timedelta(hours=1))
    _, doc = run(team_scenario(tmp_path, repository, "early", options={"target": early}), tmp_path)
    located = next(s for s in doc["steps"] if s["name"] == "locate")
    assert located["status"] == "error" and doc["exit_code"] == 2
    assert "is before the oldest backup in stanza team" in located["message"]
    assert repository.label in located["message"]


def test_a_stale_newest_backup_fails_naming_it_and_its_age(repository: Repository, tmp_path: Path) -> None:
    objectives = {"rto_seconds": 3600, "max_backup_age_seconds": 0.5}
    _, doc = run(team_scenario(tmp_path, repository, "stale", objectives=objectives), tmp_path)
    fresh = next(s for s in doc["steps"] if s["name"] == "freshness")
    assert fresh["status"] == "failed" and doc["exit_code"] == 1
    assert fresh["message"].startswith(
        f"stale: the newest backup pgBackRest backup {repository.label} (stanza team) is"
    )
    assert "older than the 0s (0.5s) allowed" in fresh["message"]
    assert statuses(doc)["recover"] == "passed"  # restorable, but not fresh: the verdict says failed


def test_a_missing_or_empty_heartbeat_fails_the_measurement(repository: Repository, tmp_path: Path) -> None:
    missing = {"table": "app_heartbeat", "column": "at", "database": "drill_app"}
    _, doc = run(team_scenario(tmp_path / "a", repository, "nobeat", heartbeat=missing), tmp_path / "a")
    beat = next(s for s in doc["steps"] if s["name"] == "heartbeat")
    assert beat["status"] == "failed"
    assert beat["message"].startswith("heartbeat table app_heartbeat is not in the restored data (drill_app)")
    assert doc["measurements"]["rpo"]["method"] == "bound"
    empty = {
        "table": "drill_stand_in_marks",
        "column": "committed_at",
        "where": {"phase": "never"},
        "database": "drill_app",
    }
    _, doc = run(team_scenario(tmp_path / "b", repository, "emptybeat", heartbeat=empty), tmp_path / "b")
    beat = next(s for s in doc["steps"] if s["name"] == "heartbeat")
    assert beat["message"].startswith(
        "heartbeat table drill_stand_in_marks holds no row matching heartbeat.where"
    )


def test_a_wal_segment_missing_before_the_target_fails_naming_it(tmp_path: Path) -> None:
    require_pgbackrest()
    with pgbackrest_stand_in(stanza="gap") as stand_in:
        full_backup(stand_in)
        with stand_in.db.connect(autocommit=True) as conn:
            conn.execute("INSERT INTO drill_stand_in_marks (id, phase) VALUES (1000, 'between')")
        between = switch_and_wait(stand_in)  # a segment after the backup, before the target
        target = write_around_target(stand_in, 5, 5)
        stand_in.cluster.stop()
        archive = stand_in.cluster.base / "repo" / "archive" / "gap"
        [victim] = [p for p in archive.rglob(f"{between}-*") if p.is_file()]
        victim.unlink()
        repo = Repository(stand_in.config, "gap", stand_in.cluster.base / "repo", target, "", 5)
        _, doc = run(team_scenario(tmp_path, repo, "gap"), tmp_path)
    steps = {s["name"]: s for s in doc["steps"]}
    assert steps["wal-archive"]["status"] == "failed"
    assert steps["wal-archive"]["message"].startswith(f"WAL segment {between} is missing from the archive")
    assert steps["recover"]["status"] == "failed"
    assert f"WAL segment {between} is missing from the archive" in steps["recover"]["message"]
    assert doc["extra"]["pitr_archive"]["gap_check"]["gap"] == between


INFO = [
    {
        "name": "main",
        "status": {"code": 0, "message": "ok"},
        "db": [{"id": 1, "version": "16", "system-id": 7000000000000000001}],
        "archive": [{"id": "16-1", "min": "000000010000000000000001", "max": "000000010000000000000009"}],
        "backup": [
            {
                "label": "20261201-020000F",
                "type": "full",
                "error": False,
                "timestamp": {"start": 1796090400, "stop": 1796090460},
                "archive": {"start": "000000010000000000000002", "stop": "000000010000000000000002"},
                "database": {"id": 1},
                "info": {"size": 100, "repository": {"size": 50}},
            }
        ],
    }
]


def test_pgbackrest_info_is_parsed_field_by_field_and_hostile_shapes_are_refused() -> None:
    info = parse_info(json.dumps(INFO), "main")
    (backup,) = info.backups
    assert info.major(backup) == "16" and info.archive_id(backup) == "16-1"
    assert info.pick(None) == backup
    with pytest.raises(ConfigError, match="not in the repository"):
        parse_info(json.dumps(INFO), "other")
    broken = json.loads(json.dumps(INFO))
    broken[0]["backup"][0]["archive"]["start"] = "../../etc/passwd"
    with pytest.raises(ProviderError, match="not a WAL segment name"):
        parse_info(json.dumps(broken), "main")
    broken = json.loads(json.dumps(INFO))
    broken[0]["backup"][0]["timestamp"]["stop"] = "yesterday"
    with pytest.raises(ProviderError, match=r"unexpected timestamp\.stop"):
        parse_info(json.dumps(broken), "main")
    broken = json.loads(json.dumps(INFO))
    broken[0]["backup"][0]["error"] = True  # pgBackRest found checksum errors while backing up
    with pytest.raises(VerificationFailed, match="holds no usable backup"):
        parse_info(json.dumps(broken), "main")
    with pytest.raises(ProviderError, match="did not print JSON"):
        parse_info("<html>", "main")


def test_a_backup_of_a_major_without_local_binaries_is_refused_naming_the_package(
    repository: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.pgdrill.pgbackrest as pgbackrest

    real = pgbackrest.parse_info

    def as_major_16(text: str, stanza: str) -> Any:
        info = real(text, stanza)
        return type(info)(
            info.stanza, info.backups, dict.fromkeys(info.versions, "16"), info.system_ids, info.archive
        )

    monkeypatch.setattr(pgbackrest, "parse_info", as_major_16)  # the one fault not producible here: no PG 16
    _, doc = run(team_scenario(tmp_path, repository, "pg16"), tmp_path)
    binaries = next(s for s in doc["steps"] if s["name"] == "binaries")
    assert binaries["status"] == "error" and doc["exit_code"] == 2
    assert (
        "the backup is PostgreSQL 16 and no PostgreSQL 16 server binaries are installed"
        in binaries["message"]
    )
    assert "`postgresql-16`" in binaries["message"]
    assert statuses(doc)["restore-files"] == "skipped"


def test_without_pgbackrest_ci_fails_a_laptop_skips_and_the_harness_names_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil

    from harness.pgdrill.pgbackrest import pgbackrest_binary

    monkeypatch.setattr(shutil, "which", lambda *_, **__: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"pgbackrest is not installed; \.ci/run installs it"):
        require_pgbackrest()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require_pgbackrest()
    with pytest.raises(ProviderError, match="`apt-get install pgbackrest`"):
        pgbackrest_binary()
