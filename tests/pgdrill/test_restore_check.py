"""`drill pg-restore-check` and its lane on real dumps, including broken ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from harness.errors import VerificationFailed
from harness.pgdrill.dump import check_header
from harness.postgres.database import Database
from harness.schema_check import load_package_schema
from tests.conftest import REPO
from tests.pgdrill.conftest import TAMPERED_ID
from tests.pgdrill.helpers import TOKEN, run, statuses, write_scenario


def _scenario(tmp_path: Path, **options: object) -> Path:
    return write_scenario(
        tmp_path,
        "rc",
        "pg-restore-check",
        options=options,
        smoke=[
            {"name": "users exist", "sql": "SELECT count(*) FROM users", "expect": {"min": 1}},
            {
                "name": "no orphan files",
                "sql": "SELECT count(*) FROM files WHERE task_id IS NULL AND card_id IS NULL",
                "expect": {"equals": 0},
            },
        ],
    )


def test_checks_pass_on_a_good_dump(
    dumps: dict[str, Path], template_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRILL_TEST_CANARY", TOKEN)
    path = _scenario(
        tmp_path,
        dump=str(dumps["public"]),
        min_rows={"users": 60, "public.audit_events": 600},
        canary={"sql": "SELECT token FROM drill_canary", "expect_env": "DRILL_TEST_CANARY"},
        chain={"table": "audit_events"},
    )
    _, doc = run(path, tmp_path)
    assert doc["verdict"] == "verified", doc["reason"]
    status = statuses(doc)
    assert status.pop("freshness") == "skipped"  # no objectives.max_backup_age_seconds: reported, not judged
    assert set(status.values()) == {"passed"}
    section = doc["extra"]["pg_restore_check"]
    assert section["min_rows"]["public.users"] == {"min": 60, "rows": 60, "passed": True}
    assert section["canary"] == {"configured": True, "returned_byte_exact": True}
    chain = section["chain"]
    assert chain["row_count"] == chain["verifier_walked"] == 600 and chain["first_break_id"] == ""
    with template_db.connect() as conn:
        head = conn.execute("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()
    assert head is not None and chain["chain_head_hash"] == head[0]  # the source's head, byte-exact
    assert TOKEN not in json.dumps(doc, ensure_ascii=False)
    jsonschema.validate(doc, load_package_schema("evidence.schema.json"))


def test_unmet_minimum_and_wrong_canary_fail(
    dumps: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRILL_TEST_CANARY", TOKEN + "x")
    path = _scenario(
        tmp_path,
        min_rows={"users": 61, "missing_table": 1},
        canary={"sql": "SELECT token FROM drill_canary", "expect_env": "DRILL_TEST_CANARY"},
    )
    _, doc = run(path, tmp_path, dump=str(dumps["full"]))
    steps = {s["name"]: s for s in doc["steps"]}
    assert doc["verdict"] == "failed"
    assert steps["row-counts"]["message"] == (
        "public.missing_table: not in the restored dump; public.users: 60 rows, expected at least 61"
    )
    assert steps["canary"]["status"] == "failed" and "canary differs" in steps["canary"]["message"]
    assert steps["smoke"]["status"] == "passed"


def test_a_tampered_chain_in_the_dump_is_located_in_evidence(dumps: dict[str, Path], tmp_path: Path) -> None:
    path = _scenario(tmp_path, dump=str(dumps["tampered"]), chain={"table": "audit_events"})
    _, doc = run(path, tmp_path)
    assert doc["verdict"] == "failed"
    assert doc["reason"] == (
        f"step 'verify-chain' failed: verifier found a break: audit_events row id={TAMPERED_ID}: its stored "
        "hash does not match its content (changed payload)"
    )
    chain = doc["extra"]["pg_restore_check"]["chain"]
    assert chain["first_break_id"] == str(TAMPERED_ID) and chain["verifier_walked"] == chain["row_count"]
    assert statuses(doc)["row-counts"] == statuses(doc)["smoke"] == "passed"


@pytest.mark.parametrize(
    ("name", "step", "message"),
    [
        ("truncated", "restore", "the dump is truncated or damaged"),
        ("random", "inspect", r"not a pg_dump custom-format archive \(no PGDMP header\)"),
        ("plain", "inspect", r"a plain-text SQL dump \(pg_dump -Fp\)"),
    ],
)
def test_broken_dumps_fail_naming_the_step(
    dumps: dict[str, Path], tmp_path: Path, name: str, step: str, message: str
) -> None:
    _, doc = run(_scenario(tmp_path), tmp_path, dump=str(dumps[name]))
    assert doc["verdict"] == "failed"
    assert doc["reason"].startswith(f"step {step!r} failed: ")
    assert re.search(message, doc["reason"])
    assert statuses(doc)["row-counts"] == "skipped"


def test_header_check_names_other_dump_formats(tmp_path: Path) -> None:
    tar = tmp_path / "x.tar"
    tar.write_bytes(b"PGDMP\x01\x0e\x00\x04\x08\x03" + bytes(64))
    with pytest.raises(VerificationFailed, match=r"tar format \(-Ft\); this drill needs custom format"):
        check_header(tar)
    empty = tmp_path / "empty.dump"
    empty.write_bytes(b"")
    with pytest.raises(VerificationFailed, match="the file is empty"):
        check_header(empty)


def _drill(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_"))}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_command_line(dumps: dict[str, Path], tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    ok = _drill(
        "pg-restore-check",
        str(dumps["full"]),
        "--min-rows",
        "users=1",
        "--canary-sql",
        "SELECT token FROM drill_canary",
        "--canary-env",
        "EXPECTED",
        "--evidence-dir",
        str(reports),
        cwd=tmp_path,
        env={"EXPECTED": TOKEN},
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED (exit 0)" in ok.stdout and TOKEN not in ok.stdout + ok.stderr
    [evidence] = reports.glob("*.json")
    assert TOKEN not in evidence.read_text()
    bad = _drill("pg-restore-check", str(dumps["full"]), "--min-rows", "users", cwd=tmp_path)
    assert bad.returncode == 2 and "--min-rows 'users': expected TABLE=N" in bad.stderr
    broken = _drill("pg-restore-check", str(dumps["truncated"]), "--evidence-dir", str(reports), cwd=tmp_path)
    assert broken.returncode == 1 and "FAILED (exit 1): step 'restore' failed" in broken.stdout


def test_a_dump_from_a_major_without_local_binaries_is_not_restored(
    dumps: dict[str, Path], tmp_path: Path
) -> None:
    """The header says which server made the dump; a server of that major must restore it."""
    data = dumps["public"].read_bytes()
    version = re.search(rb"(\d+)\.\d+ \(", data)
    assert version is not None
    major = version.group(1)
    other = b"9" * len(major) if major != b"9" * len(major) else b"8" * len(major)
    forged = tmp_path / "other-major.dump"
    forged.write_bytes(
        data[: version.start(1)] + other + data[version.end(1) :]
    )  # the header's server version
    _, doc = run(_scenario(tmp_path, dump=str(forged)), tmp_path)
    restore = next(s for s in doc["steps"] if s["name"] == "restore")
    assert restore["status"] == "error" and doc["exit_code"] == 2
    wanted = other.decode()
    assert (
        f"the backup is PostgreSQL {wanted} and no PostgreSQL {wanted} server binaries are installed"
        in (restore["message"])
    )
    assert f"`postgresql-{wanted}`" in restore["message"]
