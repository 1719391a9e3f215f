"""PITR from a plain base backup plus a WAL archive, as a team's own tools leave them: a
``pg_basebackup -Fp`` directory (with backup_manifest) or a ``-Ft -z`` tar directory, and the
files a copying ``archive_command`` wrote (some gzip'd), in a directory or under an ``s3://``
prefix. Faults: a missing WAL segment, a target before the backup, another major's backup, a
data file that no longer matches the manifest."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.aws.embedded import embedded_moto
from harness.aws.endpoint import AwsEndpoint
from harness.dataset.heartbeat import create_heartbeat_table, write_heartbeat
from harness.offsite.client import s3_client
from harness.postgres.binaries import pg_free_env
from harness.postgres.database import create_database
from harness.postgres.process import run_tool
from harness.postgres.recovery import (
    archived_files,
    archiving_postgres,
    server_now,
    switch_and_archive,
    take_base_backup,
    wal_archive,
)
from tests.pgdrill.helpers import run, statuses, write_scenario

ROWS_BEFORE, ROWS_AFTER = 9, 6


@dataclass(frozen=True)
class TeamBackups:
    plain: Path  # pg_basebackup -Fp, with backup_manifest
    tar: Path  # pg_basebackup -Ft -z -X stream: base.tar.gz, pg_wal.tar.gz, backup_manifest
    wal: Path  # archive_command's files, every other one gzip'd
    target: datetime
    between: str  # a segment archived after the backups and before the target


def _insert(db: Any, ids: range) -> None:
    with db.connect(autocommit=True) as conn:
        for i in ids:
            conn.execute("INSERT INTO marks (id) VALUES (%s)", (i,))


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> TeamBackups:
    out = tmp_path_factory.mktemp("team")
    with archiving_postgres() as source:
        db = create_database(source.database(), "app").with_environment("drill")
        create_heartbeat_table(db)
        with db.connect() as conn:
            conn.execute(
                "CREATE TABLE marks (id bigint PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"
            )
            conn.commit()
        plain = take_base_backup(source, source.base / "plain")
        tar = source.base / "tar"
        made = run_tool(
            source, "pg_basebackup", ["-D", str(tar), "-Ft", "-z", "-X", "stream", "-c", "fast", "--no-sync"],
            env=db.tool_env(),
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        _insert(db, range(1, ROWS_BEFORE // 2 + 1))
        between = switch_and_archive(source, db)
        _insert(db, range(ROWS_BEFORE // 2 + 1, ROWS_BEFORE + 1))
        write_heartbeat(db)
        target = server_now(db)
        _insert(db, range(ROWS_BEFORE + 1, ROWS_BEFORE + ROWS_AFTER + 1))
        write_heartbeat(db)
        switch_and_archive(source, db)
        shutil.copytree(plain.path, out / "plain")
        shutil.copytree(tar, out / "tar")
        (out / "wal").mkdir()
        for index, path in enumerate(archived_files(wal_archive(source))):
            if index % 2:
                with path.open("rb") as src, gzip.open(out / "wal" / f"{path.name}.gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.copy2(path, out / "wal" / path.name)
    return TeamBackups(out / "plain", out / "tar", out / "wal", target, between)


@pytest.fixture(scope="module")
def moto() -> Iterator[AwsEndpoint]:
    with embedded_moto() as running:
        yield running


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scenario(tmp_path: Path, name: str, backup: str, wal: str, target: str, **extra: Any) -> Path:
    base: dict[str, Any] = {"backup": backup, "wal": wal}
    if "aws" in extra:
        base["aws"] = extra.pop("aws")
    return write_scenario(
        tmp_path,
        name,
        "pitr-archive",
        options={"base_backup": base, "target": target, "restore": {"database": "app"}},
        heartbeat={"table": "drill_heartbeat", "column": "beat_at"},
        objectives={"rto_seconds": 3600, "rpo_seconds": 3600, "max_backup_age_seconds": 3600},
        **extra,
    )


def digest_tree(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_a_plain_backup_and_a_wal_directory_recover_to_the_target(team: TeamBackups, tmp_path: Path) -> None:
    before = (digest_tree(team.plain), digest_tree(team.wal))
    smoke = [{"name": "rows", "sql": "SELECT count(*) FROM marks", "expect": {"equals": ROWS_BEFORE}}]
    path = scenario(tmp_path, "plain", str(team.plain), str(team.wal), iso(team.target), smoke=smoke)
    _, doc = run(path, tmp_path)
    assert doc["verdict"] == "verified", doc["reason"]
    status = statuses(doc)
    assert (
        status["verify-backup"] == "passed"
        and status["smoke"] == "passed"
        and status["heartbeat"] == "passed"
    )
    assert next(s for s in doc["steps"] if s["name"] == "verify-backup")["message"].startswith(
        "pg_verifybackup:"
    )
    assert (digest_tree(team.plain), digest_tree(team.wal)) == before  # read, never changed
    assert doc["measurements"]["rpo"]["method"] == "heartbeat"
    assert doc["measurements"]["rpo"]["measured_seconds"] < 1.0
    assert doc["extra"]["pitr_archive"]["source"]["layout"] == "directory"


def test_a_tar_backup_and_wal_under_an_s3_prefix_recover_to_the_end(
    team: TeamBackups, moto: AwsEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, bucket = s3_client(moto), "team-wal-archive"
    s3.create_bucket(Bucket=bucket)
    for path in sorted(team.wal.iterdir()):  # as an archive_command uploading with a SHA-256 would
        s3.put_object(
            Bucket=bucket, Key=f"wal/{path.name}", Body=path.read_bytes(), ChecksumAlgorithm="SHA256"
        )
    monkeypatch.setenv("LOCALSTACK_ENDPOINT", str(moto.endpoint_url))
    smoke = [
        {
            "name": "every row",
            "sql": "SELECT count(*) FROM marks",
            "expect": {"equals": ROWS_BEFORE + ROWS_AFTER},
        }
    ]
    path = scenario(
        tmp_path,
        "tar",
        str(team.tar),
        f"s3://{bucket}/wal/",
        "latest",
        smoke=smoke,
        aws={"provider": "localstack"},
    )
    _, doc = run(path, tmp_path)
    assert doc["verdict"] == "verified", doc["reason"]
    source = doc["extra"]["pitr_archive"]["source"]
    assert source["layout"] == "tar-directory" and source["fetched_objects"] >= 2
    rpo = doc["measurements"]["rpo"]
    assert rpo["heartbeat"]["reference_means"] == "drill time (latest)"


def test_a_missing_wal_segment_fails_naming_it(team: TeamBackups, tmp_path: Path) -> None:
    holey = tmp_path / "wal"
    shutil.copytree(team.wal, holey)
    for name in (team.between, f"{team.between}.gz"):
        (holey / name).unlink(missing_ok=True)
    path = scenario(tmp_path, "holey", str(team.plain), str(holey), iso(team.target))
    _, doc = run(path, tmp_path)
    steps = {s["name"]: s for s in doc["steps"]}
    assert steps["wal-archive"]["status"] == "failed"
    assert steps["wal-archive"]["message"].startswith(
        f"WAL segment {team.between} is missing from the archive"
    )
    assert f"WAL segment {team.between} is missing from the archive" in steps["recover"]["message"]


def test_a_target_before_the_backup_is_refused(team: TeamBackups, tmp_path: Path) -> None:
    early = iso(team.target - timedelta(days=1))
    _, doc = run(scenario(tmp_path, "early", str(team.plain), str(team.wal), early), tmp_path)
    located = next(s for s in doc["steps"] if s["name"] == "locate")
    assert located["status"] == "error"
    assert (
        "is before the base backup" in located["message"]
        and "can only be rolled forward" in located["message"]
    )


def test_a_backup_of_another_major_is_refused_naming_the_package(team: TeamBackups, tmp_path: Path) -> None:
    other = tmp_path / "pg16"
    shutil.copytree(team.plain, other)
    (other / "PG_VERSION").write_text("16\n")
    _, doc = run(scenario(tmp_path, "pg16", str(other), str(team.wal), iso(team.target)), tmp_path)
    binaries = next(s for s in doc["steps"] if s["name"] == "binaries")
    assert binaries["status"] == "error" and doc["exit_code"] == 2
    assert (
        "the backup is PostgreSQL 16 and no PostgreSQL 16 server binaries are installed"
        in binaries["message"]
    )
    assert "`postgresql-16`" in binaries["message"]


def test_a_data_file_that_no_longer_matches_the_manifest_fails_verification(
    team: TeamBackups, tmp_path: Path
) -> None:
    changed = tmp_path / "changed"
    shutil.copytree(team.plain, changed)
    victim = next(p for p in sorted((changed / "base").rglob("*")) if p.is_file() and p.stat().st_size > 8192)
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    _, doc = run(scenario(tmp_path, "changed", str(changed), str(team.wal), iso(team.target)), tmp_path)
    verify = next(s for s in doc["steps"] if s["name"] == "verify-backup")
    assert verify["status"] == "failed"
    assert "pg_verifybackup rejected the base backup" in verify["message"]
    assert "checksum mismatch" in verify["message"]
    assert doc["verdict"] == "failed"


def test_pg_free_env_is_what_the_tools_see() -> None:
    assert not any(k.startswith("PG") for k in pg_free_env())
