"""Evidence: verdict rules, schema validity, atomic never-overwriting writes, no secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.evidence import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    Evidence,
    render_markdown,
    validate_evidence,
    write_evidence,
)


def _evidence(*steps: tuple[str, bool, str]) -> Evidence:
    ev = Evidence(scenario={"name": "unit", "file": "unit.yaml", "lane": "portable-export"})
    for name, proving, status in steps:
        ev.add_step(name, data_proving=proving).status = status
    return ev


@pytest.mark.parametrize(
    ("steps", "verdict", "code"),
    [
        ([("export", False, PASSED), ("validate", True, PASSED)], "verified", 0),
        ([("export", False, PASSED), ("validate", True, SKIPPED)], "failed", 1),  # nothing proved
        ([("export", False, PASSED)], "failed", 1),
        ([("export", False, PASSED), ("validate", True, FAILED), ("smoke", True, SKIPPED)], "failed", 1),
        ([("export", False, ERROR), ("validate", True, SKIPPED)], "error", 2),
        ([("validate", True, PASSED), ("restore", False, ERROR)], "error", 2),
    ],
)
def test_verdict_rules(steps: list[tuple[str, bool, str]], verdict: str, code: int) -> None:
    doc = _evidence(*steps).finish()
    assert (doc["verdict"], doc["exit_code"]) == (verdict, code)
    validate_evidence(doc)


def test_written_atomically_and_never_overwritten(tmp_path: Path) -> None:
    doc = _evidence(("validate", True, PASSED)).finish()
    json_path, md_path = write_evidence(doc, tmp_path)
    assert json.loads(json_path.read_text())["verdict"] == "verified"
    assert "VERIFIED" in md_path.read_text()
    with pytest.raises(FileExistsError):
        write_evidence(doc, tmp_path)
    assert json.loads(json_path.read_text()) == doc
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [json_path.name, md_path.name]
    )  # no temp files


def test_invalid_evidence_is_not_written(tmp_path: Path) -> None:
    doc = _evidence(("validate", True, PASSED)).finish()
    doc["verdict"] = "probably fine"
    with pytest.raises(ValueError, match="verdict"):
        write_evidence(doc, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_secrets_never_reach_evidence(tmp_path: Path) -> None:
    ev = _evidence(("validate", True, PASSED))
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    ev.step("validate").message = token
    ev.sections["source"] = {"archive": {"uri": "https://b.s3.amazonaws.com/k?X-Amz-Signature=" + "f" * 64}}
    doc = ev.finish()
    json_path, md_path = write_evidence(doc, tmp_path)
    text = json_path.read_text() + md_path.read_text()
    assert token not in text and "f" * 64 not in text


def test_database_description_without_password_is_enforced() -> None:
    doc = _evidence(("validate", True, PASSED)).finish()
    doc["target"] = {
        "environment": "scratch",
        "database": {"provider": "x", "environment": "scratch", "password": "p"},
    }
    with pytest.raises(ValueError, match="target/database"):
        validate_evidence(doc)


def test_github_step_summary_is_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "schedule")
    doc = _evidence(("validate", True, PASSED)).finish()
    assert doc["trigger"]["kind"] == "schedule"
    write_evidence(doc, tmp_path / "reports")
    assert summary.read_text() == render_markdown(doc, next((tmp_path / "reports").glob("*.json"))) + "\n"
