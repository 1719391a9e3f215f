"""Point-in-time recovery on real clusters: exact recovery, and its faults."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from harness.errors import ConfigError, VerificationFailed
from harness.postgres import recovery as rec
from harness.postgres.database import Database, create_database
from harness.postgres.embedded import EmbeddedCluster
from harness.postgres.recovery import BaseBackup


@dataclass(frozen=True)
class History:
    cluster: EmbeddedCluster
    db: Database
    backup: BaseBackup
    target: datetime
    target_segment: str
    first_after_backup: str  # the first archived segment written after the base backup


def _insert(db: Database, ids: range, phase: str) -> None:
    with db.connect(autocommit=True) as conn:
        for i in ids:
            conn.execute("INSERT INTO marks VALUES (%s, %s)", (i, phase))


@pytest.fixture(scope="module")
def history() -> Iterator[History]:
    """Backup; rows 1-5; WAL switch; rows 6-10; target; rows 11-15; everything archived."""
    with rec.archiving_postgres() as cluster:
        db = create_database(cluster.database(), "app")
        with db.connect() as conn:
            conn.execute("CREATE TABLE marks (id int PRIMARY KEY, phase text NOT NULL)")
            conn.commit()
        backup = rec.take_base_backup(cluster)
        _insert(db, range(1, 6), "before")
        first_after = rec.switch_and_archive(cluster, db)
        _insert(db, range(6, 11), "before")
        target, target_segment = rec.server_now(db), rec.current_segment(db)
        time.sleep(0.01)
        _insert(db, range(11, 16), "after")
        rec.switch_and_archive(cluster, db)
        yield History(cluster, db, backup, target, target_segment, first_after)


def _ids(db: Database) -> list[int]:
    with db.connect() as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM marks ORDER BY id").fetchall()]


def test_recovery_to_the_target_has_exactly_the_rows_before_it(history: History, base_dir: Path) -> None:
    size = rec.segment_size(history.db)
    needed = rec.preflight(
        history.backup,
        rec.wal_archive(history.cluster),
        history.target,
        target_segment=history.target_segment,
        size=size,
    )
    assert needed[0] == history.backup.start_wal and needed[-1] == history.target_segment
    with rec.restored_postgres(
        history.cluster, history.backup, history.target, base_dir=base_dir
    ) as restored:
        assert restored.data.is_relative_to(base_dir)
        assert _ids(restored.database("app")) == list(range(1, 11))
        with restored.database("app").connect() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    assert list(base_dir.iterdir()) == []  # stopped and removed
    assert _ids(history.db) == list(range(1, 16))  # the source is untouched


def test_target_before_the_base_backup_is_a_clear_error(history: History, base_dir: Path) -> None:
    early = history.backup.started_at - timedelta(minutes=5)
    with (
        pytest.raises(ConfigError, match=r"recovery target .* is before the base backup completed"),
        rec.restored_postgres(history.cluster, history.backup, early, base_dir=base_dir),
    ):
        pass
    assert list(base_dir.iterdir()) == []


def test_missing_wal_segment_is_named(history: History, base_dir: Path) -> None:
    archive = base_dir / "archive"
    shutil.copytree(rec.wal_archive(history.cluster), archive)
    (archive / history.first_after_backup).unlink()
    with pytest.raises(VerificationFailed, match=f"WAL segment {history.first_after_backup} is missing"):
        rec.preflight(
            history.backup,
            archive,
            history.target,
            target_segment=history.target_segment,
            size=rec.segment_size(history.db),
        )
    # Without the preflight, the server's own failure is turned into the same clear message.
    if history.cluster.account:
        shutil.chown(archive, *history.cluster.account)
    runs = base_dir / "runs"
    runs.mkdir(mode=0o711)
    with (
        pytest.raises(
            VerificationFailed, match=f"WAL segment {history.first_after_backup} is missing from the archive"
        ),
        rec.restored_postgres(
            history.cluster, history.backup, history.target, archive=archive, base_dir=runs
        ),
    ):
        pass
    assert list(runs.iterdir()) == []  # no leftover data directory after the failed recovery


def test_pg_verifybackup_catches_a_damaged_backup(history: History, base_dir: Path) -> None:
    assert rec.verify_base_backup(history.cluster, history.backup) == "backup successfully verified"
    copy = base_dir / "backup"
    shutil.copytree(history.backup.path, copy)
    victim = next(p for p in sorted((copy / "base").rglob("*")) if p.is_file() and p.stat().st_size > 8192)
    with victim.open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff\xfe")
    if history.cluster.account:
        for p in [copy, *copy.rglob("*")]:
            shutil.chown(p, *history.cluster.account)
    with pytest.raises(
        VerificationFailed, match=r"pg_verifybackup rejected the base backup: .*checksum mismatch"
    ):
        rec.verify_base_backup(history.cluster, replace(history.backup, path=copy))


def test_segment_arithmetic_crosses_log_boundaries() -> None:
    sixteen = 16 * 1024 * 1024
    names = rec.segment_range("0000000100000000000000FE", "000000010000000100000001", sixteen)
    assert names == [
        "0000000100000000000000FE",
        "0000000100000000000000FF",
        "000000010000000100000000",
        "000000010000000100000001",
    ]
    assert rec.segment_range("000000020000000300000005", "000000020000000300000005", sixteen) == [
        "000000020000000300000005"
    ]


def test_pitr_lane_names_a_missing_segment_then_recovers_and_judges_objectives(tmp_path: Path) -> None:
    from harness.evidence import validate_evidence
    from harness.pgdrill.pitr import PitrLane
    from tests.pgdrill.helpers import make_lane, write_scenario

    path = write_scenario(
        tmp_path,
        "pitr-lane",
        "pitr",
        source={"dataset": {"rows": 500}},
        objectives={"rto_seconds": 0.001, "rpo_seconds": 3600},
        options={"rows_before_target": 6, "rows_after_target": 4},
    )
    lane, evidence = make_lane(path, tmp_path)
    assert isinstance(lane, PitrLane)
    try:
        for name in ("seed", "base-backup", "verify-backup", "write"):
            assert lane.runner(name)()
        archive = rec.wal_archive(lane.source)
        gap = rec.segment_range(lane.backup.start_wal, lane.target_segment, rec.segment_size(lane.db))[1]
        (archive / gap).rename(archive / "aside")
        with pytest.raises(VerificationFailed, match=f"WAL segment {gap} is missing from the archive"):
            lane.step_restore()
        (archive / "aside").rename(archive / gap)
        assert "recovered to the target" in lane.step_restore()
        assert (
            "exactly the 6 rows committed before the target exist, none of the 4 after"
            in lane.step_verify_target()
        )
        with pytest.raises(VerificationFailed, match=r"objective missed: RTO \d+\.\ds vs 0.001s"):
            lane.step_objectives()
        sections = lane.sections()
    finally:
        lane.close("failed")
    assert not lane.source.base.exists() and not lane.restored.base.exists()
    pitr = sections["extra"]["pitr"]
    assert pitr["found"] == {"rows": 6, "missing_before_target": [], "present_after_target": []}
    assert pitr["recovery"]["source"] == "local" and pitr["recovery"]["used_fetched_copy"] is False
    assert pitr["recovery"]["restore_command_directory"] == str(archive.resolve())
    assert gap in pitr["recovery"]["wal_restored_from_archive"] and "offsite" not in pitr
    assert pitr["comparison"]["passed"] and pitr["recovered"]["tables"] == pitr["at_target"]["tables"]
    assert sections["measurements"]["rto"]["met"] is False and sections["measurements"]["rpo"]["met"] is True
    evidence.sections.update(sections)
    validate_evidence(evidence.finish())
