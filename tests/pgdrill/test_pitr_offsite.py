"""PITR with ``options.wal_offsite``: base backup and WAL shipped to the real embedded moto server
(over HTTP), fetched back checksum-verified, and recovery reading only that copy; and its faults."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ArchiveError, ConfigError, StepSkipped, VerificationFailed
from harness.evidence import Evidence, validate_evidence
from harness.lanes.base import Lane
from harness.lanes.runner import run_lane
from harness.pgdrill.pitr import PitrLane
from harness.pgdrill.wal_files import extract_backup, gunzip_file, gzip_file, write_backup_tar
from harness.pgdrill.wal_offsite import WalOffsite, load_wal_offsite
from harness.postgres import recovery as rec
from harness.postgres.recovery import BaseBackup
from harness.scenario import RunOptions, load_scenario
from tests.offsite.conftest import corrupt_stored_object
from tests.offsite.test_cli import assert_no_secrets
from tests.pgdrill.helpers import make_lane, statuses, write_scenario

_buckets = itertools.count()
KEY = re.compile(
    r"pitr-test/drill/\d+/(?:base/\d{8}T\d{6}Z\.tar|wal/[0-9A-F]{24}(?:\.[0-9A-F]{8}\.backup)?)\.gz"
)


def _scenario(tmp_path: Path, **wal_offsite: Any) -> Path:
    settings = {
        "aws": {"provider": "embedded"},
        "bucket": f"drill-pitr-test-{os.getpid()}-{next(_buckets)}",
        "prefix": "pitr-test",
        "storage": {"encryption": "aws:kms"},
        **wal_offsite,
    }
    return write_scenario(
        tmp_path,
        "pitr-offsite",
        "pitr",
        source={"dataset": {"rows": 300}, "environment": "drill"},
        objectives={"rto_seconds": 3600, "rpo_seconds": 3600},
        options={"rows_before_target": 6, "rows_after_target": 4, "wal_offsite": settings},
    )


def _before(lane: Lane, step: str, action: Callable[[PitrLane], None]) -> None:
    """Run ``action`` (a fault, or a look at the live bucket) just before ``step`` runs."""
    assert isinstance(lane, PitrLane)
    attribute = "step_" + step.replace("-", "_")
    original = getattr(lane, attribute)

    def wrapped() -> str:
        action(lane)
        result: str = original()
        return result

    setattr(lane, attribute, wrapped)


def _run(lane: Lane, evidence: Evidence) -> dict[str, Any]:
    doc = run_lane(lane, evidence)
    validate_evidence(doc)
    assert_no_secrets(json.dumps(doc))
    assert isinstance(lane, PitrLane)
    assert not lane.source.base.exists()  # cluster, archive, shipped staging and fetched copy removed
    return doc


def _needed_wal(lane: PitrLane) -> list[str]:
    return rec.segment_range(lane.backup.start_wal, lane.target_segment, rec.segment_size(lane.db))


def _wal_key(lane: PitrLane, name: str) -> str:
    assert lane.offsite is not None
    return f"{lane.offsite.root}/wal/{name}.gz"


def test_recovery_reads_only_what_came_back_from_s3(tmp_path: Path) -> None:
    lane, evidence = make_lane(_scenario(tmp_path), tmp_path)
    stored: dict[str, dict[str, Any]] = {}

    def look_at_the_bucket(lane: PitrLane) -> None:
        assert lane.offsite is not None
        s3, bucket = lane.offsite.session.s3, lane.offsite.settings.bucket
        for obj in s3.list_objects_v2(Bucket=bucket)["Contents"]:
            stored[obj["Key"]] = s3.head_object(Bucket=bucket, Key=obj["Key"], ChecksumMode="ENABLED")

    def lose_the_local_copies(lane: PitrLane) -> None:
        """The source site is gone: no local WAL archive and no local base backup any more."""
        shutil.rmtree(rec.wal_archive(lane.source))
        shutil.rmtree(lane.backup.path)

    _before(lane, "fetch", look_at_the_bucket)
    _before(lane, "restore", lose_the_local_copies)
    doc = _run(lane, evidence)
    assert doc["verdict"] == "verified", statuses(doc)
    assert set(statuses(doc).values()) == {"passed"}

    # Every object: a key without private data, server-side encryption, a SHA-256 kept by the store.
    assert stored and all(KEY.fullmatch(key) for key in stored), sorted(stored)
    assert {h["ServerSideEncryption"] for h in stored.values()} == {"aws:kms"}
    assert all(h["ChecksumSHA256"] and h["Metadata"]["sha256"] for h in stored.values())

    pitr = doc["extra"]["pitr"]
    off, recovery = pitr["offsite"], pitr["recovery"]
    wal, fetched = off["wal"], off["fetch"]
    assert off["location"].startswith(f"s3://{off['bucket']}/pitr-test/drill/")
    assert wal["files"] == len([k for k in stored if "/wal/" in k]) and wal["segments"] >= 3
    assert wal["stored_bytes"] == sum(h["ContentLength"] for k, h in stored.items() if "/wal/" in k)
    assert wal["bytes"] >= wal["segments"] * 16 * 1024 * 1024 > wal["stored_bytes"]  # gzip'd segments
    assert {o["version_id"] for o in wal["objects"]} == {
        h["VersionId"] for k, h in stored.items() if "/wal/" in k
    }
    assert off["base_backup"]["version_id"] == next(
        h["VersionId"] for k, h in stored.items() if "/base/" in k
    )
    assert fetched["wal"]["same_as_shipped"] and fetched["wal"]["not_in_bucket"] == []
    assert fetched["wal"]["verified_against"] == [
        "gzip CRC-32",
        "sha256 recorded at upload",
        "store ChecksumSHA256",
    ]
    assert fetched["wal"]["checksum_summary"] == wal["checksum_summary"]
    # Recovery used the fetched copy: its restore_command read there, and replayed the needed WAL.
    assert recovery["source"] == "offsite" and recovery["used_fetched_copy"] is True
    assert recovery["restore_command_directory"] == fetched["wal"]["directory"]
    assert recovery["base_backup"] == fetched["base_backup"]["unpacked_to"]
    assert recovery["restore_command_directory"].startswith(fetched["directory"])
    replayed = recovery["wal_restored_from_archive"]
    assert replayed and set(replayed) <= {o["name"] for o in fetched["wal"]["objects"]}
    assert pitr["found"] == {"rows": 6, "missing_before_target": [], "present_after_target": []}
    assert "the copy fetched from S3" in next(s["message"] for s in doc["steps"] if s["name"] == "restore")


def test_a_wal_object_deleted_from_s3_fails_the_recovery_naming_it(tmp_path: Path) -> None:
    lane, evidence = make_lane(_scenario(tmp_path), tmp_path)
    lost: list[str] = []

    def delete_a_segment(lane: PitrLane) -> None:
        assert lane.offsite is not None
        lost.append(_needed_wal(lane)[1])  # after the base backup's own pg_wal, before the target
        lane.offsite.session.s3.delete_object(
            Bucket=lane.offsite.settings.bucket, Key=_wal_key(lane, lost[0])
        )

    _before(lane, "fetch", delete_a_segment)
    doc = _run(lane, evidence)
    steps = {s["name"]: s for s in doc["steps"]}
    assert doc["verdict"] == "failed" and doc["exit_code"] == 1
    assert steps["fetch"]["status"] == "passed"
    assert f"(shipped but not in the bucket: {lost[0]})" in steps["fetch"]["message"]
    assert steps["restore"]["status"] == "failed"
    assert re.match(
        rf"WAL segment {lost[0]} is missing from the archive s3://\S+/wal/ \(fetched into /\S+\): recovery",
        steps["restore"]["message"],
    ), steps["restore"]["message"]
    assert doc["extra"]["pitr"]["offsite"]["fetch"]["wal"]["not_in_bucket"] == [lost[0]]
    assert doc["extra"]["pitr"]["offsite"]["fetch"]["wal"]["same_as_shipped"] is False


def test_a_wal_object_changed_at_rest_fails_the_fetch_and_recovery_is_not_attempted(tmp_path: Path) -> None:
    lane, evidence = make_lane(_scenario(tmp_path), tmp_path)
    rotten: list[str] = []

    def flip_a_byte_in_the_store(lane: PitrLane) -> None:
        assert lane.offsite is not None
        rotten.append(_needed_wal(lane)[-1])
        corrupt_stored_object(lane.offsite.settings.bucket, _wal_key(lane, rotten[0]))

    _before(lane, "fetch", flip_a_byte_in_the_store)
    doc = _run(lane, evidence)
    steps = {s["name"]: s for s in doc["steps"]}
    assert doc["verdict"] == "failed" and doc["exit_code"] == 1
    assert steps["fetch"]["status"] == "failed"
    assert steps["fetch"]["message"].startswith(
        f"WAL file {rotten[0]} came back damaged, recovery not attempted: s3://"
    )
    assert f"/wal/{rotten[0]}.gz: checksum mismatch" in steps["fetch"]["message"]
    assert [steps[n]["status"] for n in ("restore", "verify-target")] == ["skipped", "skipped"]
    assert "recovery" not in doc["extra"]["pitr"] and "fetch" not in doc["extra"]["pitr"]["offsite"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"bucket": None}, r"options\.wal_offsite\.bucket: None is not of type 'string'"),
        ({"aws": {"provider": "gcs"}}, r"options\.wal_offsite\.aws\.provider: 'gcs' is not one of"),
        ({"prefix": "Bad Prefix"}, r"options\.wal_offsite\.prefix: 'Bad Prefix' does not match"),
        (
            {"aws": {"provider": "embedded", "endpoint_url": "http://127.0.0.1:1"}},
            r"options\.wal_offsite\.aws\.endpoint_url is only for provider localstack",
        ),
        ({"environment": "Prod_EU"}, r"options\.wal_offsite\.environment: 'Prod_EU' does not match"),
    ],
    ids=["no-bucket", "provider", "prefix", "endpoint-url", "environment"],
)
def test_bad_wal_offsite_options_stop_the_drill_before_any_work(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    path = _scenario(tmp_path, **settings)
    lane, _ = make_lane(path, tmp_path)
    assert isinstance(lane, PitrLane)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: {message}"):
        lane.step_seed()
    assert not hasattr(lane, "source")
    lane.close("failed")


def test_without_the_option_the_offsite_steps_are_skipped(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, "pitr-local", "pitr", options={"rows_before_target": 2})
    lane, _ = make_lane(path, tmp_path)
    assert isinstance(lane, PitrLane)
    for step in ("posture", "ship-backup", "ship-wal", "fetch"):
        with pytest.raises(StepSkipped, match=r"options\.wal_offsite is not set"):
            lane.runner(step)()
    assert lane.offsite is None


def test_the_base_backup_tar_round_trips_and_refuses_foreign_members(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    (backup / "base" / "1").mkdir(parents=True)
    (backup / "backup_label").write_text("START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n")
    (backup / "base" / "1" / "1259").write_bytes(os.urandom(9000))
    tar = write_backup_tar(backup, tmp_path / "b.tar.gz")
    out = extract_backup(tar, tmp_path / "out")
    assert (out / "base" / "1" / "1259").read_bytes() == (backup / "base" / "1" / "1259").read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []

    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as t:
        t.add(backup / "backup_label", arcname="base-backup/backup_label")
        t.add(backup / "backup_label", arcname="etc/cron.d/x")
    with pytest.raises(ArchiveError, match="member outside base-backup/"):
        extract_backup(evil, tmp_path / "evil-out")
    with tarfile.open(tmp_path / "escape.tar", "w") as t:
        t.add(backup / "backup_label", arcname="base-backup/../../escape")
    with pytest.raises(ArchiveError, match="member outside base-backup/"):
        extract_backup(tmp_path / "escape.tar", tmp_path / "escape-out")
    assert not (tmp_path / "escape").exists()
    link = tarfile.TarInfo("base-backup/pg_tblspc/16384")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    with tarfile.open(tmp_path / "link.tar", "w") as t:
        t.addfile(link)
    with pytest.raises(ArchiveError, match="a member is not a file or directory"):
        extract_backup(tmp_path / "link.tar", tmp_path / "link-out")
    with tarfile.open(tmp_path / "twice.tar", "w") as t:
        t.add(backup / "backup_label", arcname="base-backup/backup_label")
        t.add(backup / "backup_label", arcname="base-backup/backup_label")
    with pytest.raises(ArchiveError, match=r"cannot unpack the base backup: .*File exists"):
        extract_backup(tmp_path / "twice.tar", tmp_path / "twice-out")


def test_wal_files_round_trip_through_gzip_and_a_truncated_copy_is_refused(tmp_path: Path) -> None:
    segment = tmp_path / "000000010000000000000003"
    segment.write_bytes(os.urandom(100_000) + bytes(16 * 1024 * 1024 - 100_000))  # a switched segment
    sha, size = gzip_file(segment, tmp_path / "seg.gz")
    assert size == segment.stat().st_size and (tmp_path / "seg.gz").stat().st_size < 200_000
    assert gunzip_file(tmp_path / "seg.gz", tmp_path / "back") == (sha, size)
    assert (tmp_path / "back").read_bytes() == segment.read_bytes()
    data = (tmp_path / "seg.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=r"cut\.gz: not a complete gzip stream"):
        gunzip_file(tmp_path / "cut.gz", tmp_path / "cut")
    assert not (tmp_path / "cut").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "000000010000000000000003",
        "back",
        "cut.gz",
        "seg.gz",
    ]


def test_a_replaced_object_or_a_target_before_every_backup_is_refused(tmp_path: Path) -> None:
    """The offsite copy on its own (real moto server, real files; a stand-in backup directory)."""
    settings = load_wal_offsite(
        {"wal_offsite": {"bucket": f"drill-pitr-unit-{os.getpid()}", "storage": {"encryption": "AES256"}}},
        where="unit.yaml",
        environment="drill",
    )
    assert settings is not None
    backup_dir, archive = tmp_path / "backup", tmp_path / "archive"
    (backup_dir / "pg_wal").mkdir(parents=True)
    label = (
        "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nSTART TIME: 2026-01-01 00:00:00 UTC\n"
    )
    (backup_dir / "backup_label").write_text(label)
    archive.mkdir()
    for name in ("000000010000000000000002", "000000010000000000000003"):
        (archive / name).write_bytes(os.urandom(4096))
    started = datetime(2026, 1, 1, tzinfo=UTC)
    backup = BaseBackup(backup_dir, started, started, "000000010000000000000002", "2026-01-01", 1, 0.1)
    with contextlib.ExitStack() as stack:
        offsite = WalOffsite(settings, stack, None)
        assert "all 6 required posture properties pass" in offsite.posture("7300000000000000001")
        assert ".tar.gz version" in offsite.ship_backup(backup, tmp_path / "staging")
        assert offsite.ship_wal(archive, tmp_path / "staging").startswith(
            "2 WAL file(s) (2 segments, 8192 bytes"
        )
        with pytest.raises(ConfigError, match=r"/base/: no base backup in the bucket that started before"):
            offsite.fetch(tmp_path / "early", started - timedelta(days=1), None)
        # Someone stores other bytes under a shipped key: a valid object, the wrong WAL.
        key = f"{offsite.root}/wal/000000010000000000000003.gz"
        body = gzip.compress(b"not the shipped segment")
        offsite.session.s3.put_object(
            Bucket=settings.bucket,
            Key=key,
            Body=body,
            ChecksumAlgorithm="SHA256",
            ServerSideEncryption="AES256",
        )
        with pytest.raises(
            VerificationFailed,
            match=r"WAL file 000000010000000000000003: the bucket holds other bytes than were shipped",
        ):
            offsite.fetch(tmp_path / "late", started + timedelta(hours=1), None)
        assert not list((tmp_path / "staging").iterdir())  # no gzip'd copy left behind


def test_an_endpoint_that_needs_docker_it_cannot_have_skips_the_drill_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("LOCALSTACK_ENDPOINT", "AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "DRILL_AWS_PROVIDER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    scenario = load_scenario(_scenario(tmp_path))
    evidence = Evidence(scenario=scenario.describe())
    for spec in PitrLane.steps:
        evidence.add_step(spec.name, data_proving=spec.data_proving)
    options = RunOptions(work_dir=tmp_path / "work", aws_provider="localstack")  # --aws-provider overrides
    doc = run_lane(PitrLane(scenario, options, evidence), evidence)
    seed = doc["steps"][0]
    assert seed["status"] == "skipped" and "no Docker daemon is reachable" in seed["message"]
    assert {s["status"] for s in doc["steps"]} == {"skipped"}
    assert doc["verdict"] == "failed" and "no data-proving check passed" in doc["reason"]
