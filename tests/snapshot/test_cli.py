"""``drill snapshot`` end to end: keys, create, list, show, verify, restore by tag, prune records;
and the S3 + KMS path of the CLI against the moto server as a LocalStack-style endpoint."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from harness.aws.endpoint import AwsEndpoint
from tests.snapshot.conftest import listing, run_cli

Capsys = pytest.CaptureFixture[str]


def test_keys_init_and_status(tmp_path: Path, capsys: Capsys) -> None:
    key = tmp_path / "k" / "snap.key"
    code, out, _ = run_cli(capsys, "snapshot", "keys", "init", "--key-file", key)
    assert code == 0 and "key id kf-" in out
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    material = json.loads(key.read_text())["key"]
    code, out, _ = run_cli(capsys, "snapshot", "keys", "status", "--key-file", key, "--json")
    status = json.loads(out)
    assert code == 0 and status["wrap_roundtrip"] is True and status["mode"] == "600"
    assert material not in out
    code, _, err = run_cli(capsys, "snapshot", "keys", "init", "--key-file", key)
    assert code == 2 and "refusing to overwrite" in err
    key.chmod(0o644)
    code, _, err = run_cli(capsys, "snapshot", "keys", "status", "--key-file", key)
    assert code == 2 and "readable by group or others" in err


def test_create_list_show_verify_restore_prune(
    tree: Path, tmp_path: Path, config: Path, capsys: Capsys
) -> None:
    ids = []
    for stamp in ("2026-10-01T00:00:00Z", "2026-10-15T00:00:00Z", "2026-11-01T00:00:00Z"):
        code, out, err = run_cli(
            capsys, "snapshot", "create", tree, "--tag", "nightly", "--config", config, "--created-at", stamp
        )
        assert code == 0, err
        ids.append(out.split()[1])
    code, out, _ = run_cli(capsys, "snapshot", "list", "--config", config)
    assert code == 0 and "3 snapshot(s)" in out and all(i in out for i in ids) and "unlocked" in out
    code, out, _ = run_cli(capsys, "snapshot", "show", ids[0], "--config", config)
    view = json.loads(out)
    assert view["tag"] == "nightly" and "wrapped_key" not in out and view["key"]["provider"] == "keyfile"
    code, out, _ = run_cli(
        capsys,
        "snapshot",
        "verify",
        ids[1],
        "--sample",
        2,
        "--seed",
        3,
        "--config",
        config,
        "--work-dir",
        tmp_path / "w",
        "--json",
    )
    result = json.loads(out)
    assert code == 0 and result["mode"] == "sample" and result["chunks_checked"] == 2
    target = tmp_path / "allowed" / "restored"
    code, out, _ = run_cli(
        capsys, "snapshot", "restore", "--tag", "nightly", "--target", target, "--config", config, "--dry-run"
    )
    assert code == 0 and f"would restore snapshot {ids[2]}" in out and not target.exists()
    code, out, _ = run_cli(
        capsys, "snapshot", "restore", "--tag", "nightly", "--target", target, "--config", config
    )
    assert code == 0 and "did restore" in out and (target / "bin" / "run.sh").exists()
    code, out, _ = run_cli(capsys, "snapshot", "restore", ids[2], "--target", target, "--config", config)
    assert code == 0 and "nothing changed" in out
    reports = tmp_path / "reports"
    code, out, _ = run_cli(
        capsys, "snapshot", "prune", "--dry-run", "--config", config, "--evidence-dir", reports
    )
    assert code == 0 and "would delete 1 of 3" in out and len(listing(tmp_path / "store")) > 3
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith(("keep", "delete"))}
    assert lines[ids[0]].startswith("delete") and "matched no keep rule of the policy" in lines[ids[0]]
    assert "would delete (dry run)" in lines[ids[0]]
    assert "keep_last: #1 newest; newest snapshot (never deleted)" in lines[ids[2]]
    code, out, _ = run_cli(capsys, "snapshot", "prune", "--config", config, "--evidence-dir", reports)
    assert code == 0 and "deleted 1 of 3" in out
    records = [json.loads(p.read_text()) for p in sorted(reports.glob("snapshot-prune-*.json"))]
    assert sorted(r["dry_run"] for r in records) == [False, True]
    deleted = [d for r in records if not r["dry_run"] for d in r["decisions"] if d["outcome"] == "deleted"]
    assert [d["id"] for d in deleted] == [ids[0]]
    code, out, _ = run_cli(capsys, "snapshot", "list", "--config", config, "--json")
    assert [r["id"] for r in json.loads(out)["snapshots"]] == ids[1:]


def test_config_errors_name_file_and_setting(tmp_path: Path, capsys: Capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("store: {type: s3}\n")
    code, _, err = run_cli(capsys, "snapshot", "list", "--config", bad)
    assert code == 2 and str(bad) in err and "store" in err
    code, _, err = run_cli(capsys, "snapshot", "list")
    assert code == 2 and "no store configured" in err
    code, _, err = run_cli(capsys, "snapshot", "list", "--store", "s3://Not_A_Bucket/x")
    assert code == 2 and "store.bucket" in err and "Not_A_Bucket" in err


def test_cli_against_s3_and_kms_endpoint(
    tree: Path, tmp_path: Path, moto: AwsEndpoint, capsys: Capsys
) -> None:
    moto.client("s3").create_bucket(Bucket="cli-snapshots", ObjectLockEnabledForBucket=True)
    aws = ["--aws-provider", "localstack", "--endpoint-url", moto.endpoint_url, "--region", "us-east-1"]
    where = ["--store", "s3://cli-snapshots/nightly", "--kms-key-id", "alias/cli-snapshots", *aws]
    code, out, err = run_cli(capsys, "snapshot", "keys", "init", *where)
    assert code == 0 and "arn:aws:kms" in out, err
    code, out, err = run_cli(
        capsys,
        "snapshot",
        "create",
        tree,
        "--tag",
        "s3",
        *where,
        "--lock-mode",
        "COMPLIANCE",
        "--lock-days",
        1,
        "--json",
    )
    assert code == 0, err
    snap = json.loads(out)["id"]
    code, out, _ = run_cli(capsys, "snapshot", "list", *where)
    assert code == 0 and snap in out and "COMPLIANCE until" in out
    code, out, err = run_cli(capsys, "snapshot", "verify", snap, *where, "--work-dir", tmp_path / "w")
    assert code == 0 and "manifest authentic" in out, err
    code, _, err = run_cli(
        capsys, "snapshot", "prune", "--keep-last", 0, *where, "--evidence-dir", tmp_path / "r"
    )
    assert code == 2 and "refusing" in err
