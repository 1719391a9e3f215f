"""Controls evaluated against a ledger: exactly the obligations the runs do not meet are unmet."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.clock import utc_iso
from harness.evidence.controls import load_catalogue
from harness.evidence.sinks import SinkSettings
from tests.evidence.conftest import START, weekly

NOW = START + timedelta(days=7 * 5 + 2)


def controls(capsys: pytest.CaptureFixture[str], ledger: Path, pub: Path, *extra: str) -> tuple[int, Any]:
    code = main(
        ["evidence", "controls", "--ledger", str(ledger), "--key", str(pub), "--now", utc_iso(NOW), *extra]
    )
    out = capsys.readouterr().out
    return code, json.loads(out) if "--format" in extra and "json" in extra else out


def unmet(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["id"], o["check"]) for c in doc["controls"] for o in c["obligations"] if not o["met"]}


def test_weekly_runs_with_one_failed_and_one_missing_show_exactly_the_unmet_obligations(
    tmp_path: Path, real_docs: dict[str, Any], signing: SinkSettings, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    ledger = tmp_path / "ledger"
    paths = weekly(ledger, real_docs["portable-export"], 6, signing, fail=[2], skip=[4])
    code, doc = controls(capsys, ledger, keypair[1], "--format", "json")
    assert code == 1
    # verified in weeks 0, 1, 3 and 5: two stretches of 14 days without a verified restore (the
    # failed week 2, the missing week 4); week 4 is also a gap in the schedule. Everything else holds.
    expected = {
        (c["id"], o["check"])
        for c in load_catalogue()
        for o in c["obligations"]
        if o["check"] in ("restore-tested", "no-gap")
    }
    assert unmet(doc) == expected
    by_id = {c["id"]: {o["check"]: o for o in c["obligations"]} for c in doc["controls"]}
    iso = by_id["ISO27001-A.8.13"]
    assert [p["message"] for p in iso["restore-tested"]["problems"]] == [
        "no verified run from 2026-03-09 to 2026-03-23 (14d > 7d)",
        "no verified run from 2026-03-23 to 2026-04-06 (14d > 7d)",
    ]
    assert iso["no-gap"]["problems"][0]["file"] == paths[3].name  # the last run before the missing week
    for check in ("offsite-restore", "encryption-at-rest", "evidence-signed", "ledger-intact"):
        assert iso[check]["met"] and iso[check]["proven_by"][-1]["file"] == paths[-1].name, check
    assert by_id["SOC2-A1.2"]["immutability"]["proven_by"] == [
        {"scenario": "portable-export", "file": paths[-1].name}
    ]
    assert by_id["SOC2-A1.3"]["rto-met"]["met"] and by_id["SOC2-A1.3"]["rpo-met"]["met"]

    code, markdown = controls(capsys, ledger, keypair[1], "--format", "markdown")
    assert code == 1
    assert "## Controls: 0 of 8 met" in markdown
    assert f"| offsite-restore within 7d | ✅ met | `{paths[-1].name}` |" in markdown
    assert (
        "| restore-tested within 7d | ❌ NOT met | [portable-export] no verified run from 2026-03-09"
        in markdown
    )


def test_all_met_when_the_schedule_held_and_unsigned_evidence_is_not_signed(
    tmp_path: Path, real_docs: dict[str, Any], signing: SinkSettings, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    ledger = tmp_path / "ledger"
    weekly(ledger, real_docs["portable-export"], 6, signing)
    code, doc = controls(capsys, ledger, keypair[1], "--format", "json")
    assert (code, unmet(doc)) == (0, set())
    code = main(["evidence", "controls", "--ledger", str(ledger), "--now", utc_iso(NOW), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and {o for _, o in unmet(doc)} == {"evidence-signed"}  # without --key nothing is proven


def test_a_scenario_counts_only_for_the_controls_it_maps_itself_to(
    tmp_path: Path, real_docs: dict[str, Any], signing: SinkSettings, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    ledger = tmp_path / "ledger"
    weekly(ledger, real_docs["portable-export"], 6, signing)
    snap = copy.deepcopy(real_docs["snapshot"])
    snap["scenario"]["controls"] = ["NIST-800-53-CP-9"]
    weekly(ledger, snap, 6, signing, skip=[2, 3])
    code, doc = controls(capsys, ledger, keypair[1], "--format", "json")
    assert code == 1
    assert unmet(doc) == {("NIST-800-53-CP-9", "restore-tested")}
    cp9 = next(c for c in doc["controls"] if c["id"] == "NIST-800-53-CP-9")
    assert cp9["scenarios"] == ["portable-export", "snapshot"]
    iso = next(c for c in doc["controls"] if c["id"] == "ISO27001-A.8.13")
    assert iso["scenarios"] == ["portable-export"]


def test_a_team_catalogue_adds_controls_and_a_broken_one_is_refused(
    tmp_path: Path, real_docs: dict[str, Any], signing: SinkSettings, keypair: tuple[bytes, Path], capsys: Any
) -> None:
    ledger = tmp_path / "ledger"
    weekly(ledger, real_docs["snapshot"], 6, signing)
    ours = tmp_path / "ours.yaml"
    ours.write_text(
        yaml.safe_dump(
            {
                "catalogue_version": 1,
                "controls": [
                    {
                        "id": "ACME-BCP-7",
                        "framework": "ACME policy",
                        "reference": "BCP 7",
                        "title": "Quarterly restore",
                        "obligations": [{"check": "restore-tested", "within_days": 2}, {"check": "rto-met"}],
                    }
                ],
            }
        )
    )
    code, doc = controls(
        capsys, ledger, keypair[1], "--catalogue", str(ours), "--no-built-in", "--format", "json"
    )
    assert code == 1
    assert [c["id"] for c in doc["controls"]] == ["ACME-BCP-7"]
    assert unmet(doc) == {("ACME-BCP-7", "restore-tested")}  # weekly runs are not every 2 days

    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "catalogue_version: 1\ncontrols:\n  - {id: X, framework: F, reference: R, title: T,\n"
        "     obligations: [{check: restore-tested-ish}]}\n"
    )
    assert main(["evidence", "controls", "--ledger", str(ledger), "--catalogue", str(broken)]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and "controls[0].obligations[0]" in err
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        yaml.safe_dump(
            {
                "catalogue_version": 1,
                "controls": [
                    {
                        "id": "SOC2-A1.2",
                        "framework": "F",
                        "reference": "R",
                        "title": "T",
                        "obligations": [{"check": "rto-met"}],
                    }
                ],
            }
        )
    )
    assert main(["evidence", "controls", "--ledger", str(ledger), "--catalogue", str(twice)]) == 2
    assert "already defined" in capsys.readouterr().err
