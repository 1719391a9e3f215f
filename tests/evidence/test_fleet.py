"""Fleets: ``drill plan --matrix``, ``drill evidence merge``, and ``drill run -n`` equal to a serial run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.cli import main
from harness.evidence.sinks import SinkSettings
from tests.evidence.conftest import KEY_ENV, REPO, drill, failed, weekly


def test_plan_matrix_has_one_entry_per_scenario_with_a_stable_id(capsys: Any) -> None:
    assert main(["plan", str(REPO / "scenarios" / "weekly"), "--matrix"]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1  # one line, for $GITHUB_OUTPUT
    matrix = json.loads(line)
    assert [e["id"] for e in matrix["include"]] == [
        "pg-roundtrip",
        "pgbackrest",
        "pitr",
        "portable-archive",
        "portable-export",
        "snapshot",
    ]
    assert all(e["id"] == e["name"] and Path(REPO / e["scenario"]).is_file() for e in matrix["include"])
    assert (
        main(["plan", str(REPO / "scenarios" / "weekly" / "pitr.yaml"), str(REPO / "scenarios"), "--matrix"])
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in again["include"]] == [
        "pitr",
        "least-privilege-gate",
        "pg-roundtrip",
        "pgbackrest",
        "portable-archive",
        "portable-export",
        "snapshot",
    ]


def test_plan_refuses_two_scenarios_with_one_name_and_broken_files(tmp_path: Path, capsys: Any) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    for name in ("a.yaml", "b.yaml"):
        shutil.copy(REPO / "scenarios" / "weekly" / "pg-roundtrip.yaml", scenarios / name)
    assert main(["plan", str(scenarios), "--matrix"]) == 2
    assert "scenario name 'pg-roundtrip' is also used by" in capsys.readouterr().err
    (scenarios / "b.yaml").write_text("scenario_version: 1\nname: x\nlane: pg-roundtrip\nsurprise: 1\n")
    assert main(["plan", str(scenarios)]) == 2
    assert "b.yaml" in capsys.readouterr().err


def test_merge_builds_a_scorecard_from_shards_and_exits_with_the_worst_verdict(
    tmp_path: Path, real_docs: Any, signing: SinkSettings, capsys: Any
) -> None:
    shards = tmp_path / "shards"
    weekly(shards / "drill-evidence-snapshot", real_docs["snapshot"], 2, signing)
    weekly(shards / "drill-evidence-portable-export", failed(real_docs["portable-export"]), 1, SinkSettings())
    out = tmp_path / "scorecard"
    assert main(["evidence", "merge", str(shards), "--out", str(out)]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("## Drill scorecard: 1 of 2 verified (exit 1)")
    card = json.loads((out / "scorecard.json").read_text())
    rows = {r["scenario"]: r for r in card["scenarios"]}
    assert (
        rows["snapshot"]["verdict"] == "verified"
        and rows["snapshot"]["signed"]
        and rows["snapshot"]["runs_seen"] == 2
    )
    assert rows["portable-export"]["verdict"] == "failed" and not rows["portable-export"]["signed"]
    (shards / "junk.json").write_text('{"evidence_format_version": "1"}')
    assert main(["evidence", "merge", str(shards), "--out", str(out)]) == 2  # unreadable evidence
    (tmp_path / "empty").mkdir()
    assert main(["evidence", "merge", str(tmp_path / "empty"), "--out", str(out)]) == 2  # nothing found


def _shape(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a document (list items collapsed): what must not differ between runs."""
    if isinstance(value, dict):
        return {prefix} | {p for k, v in value.items() for p in _shape(v, f"{prefix}.{k}")}
    if isinstance(value, list):
        return {prefix} | {p for v in value for p in _shape(v, f"{prefix}[]")}
    return {prefix}


def _summary(out: str) -> list[str]:
    """The verdict lines of the ``drill verdicts`` section (without evidence paths)."""
    section = out.split("drill verdicts", 1)[1]
    return [line for line in section.splitlines() if line.split(" ", 1)[0] in ("VERIFIED", "FAILED", "ERROR")]


@pytest.mark.parametrize("with_broken", [False, True], ids=["all-verified", "one-cannot-run"])
def test_parallel_run_gives_the_same_verdicts_exit_code_and_evidence_as_serial(
    tmp_path: Path, with_broken: bool, keypair: tuple[bytes, Path]
) -> None:
    paths = ["scenarios/weekly/snapshot.yaml", "scenarios/weekly/pg-roundtrip.yaml"]
    if with_broken:
        broken = tmp_path / "scenarios" / "broken.yaml"
        broken.parent.mkdir()
        broken.write_text("scenario_version: 1\nname: broken\nlane: no-such-lane\n")
        paths.append(str(broken))
    runs = {}
    for mode, extra in (("serial", []), ("parallel", ["-n", "2"])):
        evidence = tmp_path / mode
        proc = drill(
            "run",
            *paths,
            "--evidence-dir",
            str(evidence),
            "--work-dir",
            str(tmp_path / f"work-{mode}"),
            "--sign-key-env",
            KEY_ENV,
            *extra,
            env={KEY_ENV: keypair[0].decode()},
        )
        docs = {}
        for file in evidence.glob("*.json"):
            if not file.name.endswith(".dsse.json"):
                doc = orjson.loads(file.read_bytes())
                docs[doc["scenario"]["name"]] = doc
                assert (file.with_name(file.name.removesuffix(".json") + ".dsse.json")).is_file()
        runs[mode] = (proc.returncode, _summary(proc.stdout), docs, proc.stdout + proc.stderr)
    serial, parallel = runs["serial"], runs["parallel"]
    assert serial[0] == parallel[0] == (2 if with_broken else 0), serial[3][-2000:] + parallel[3][-2000:]
    assert [line.split(":")[0] for line in serial[1]] == [line.split(":")[0] for line in parallel[1]]
    assert sorted(serial[2]) == sorted(parallel[2]) == ["pg-roundtrip", "snapshot"]
    for name, doc in serial[2].items():
        other = parallel[2][name]
        assert (doc["verdict"], doc["exit_code"], doc["reason"]) == (
            other["verdict"],
            other["exit_code"],
            other["reason"],
        )
        assert [(s["name"], s["status"]) for s in doc["steps"]] == [
            (s["name"], s["status"]) for s in other["steps"]
        ]
        assert _shape(doc) == _shape(other)
        assert doc["previous_evidence"] is None and other["previous_evidence"] is None
    assert "2 workers [" in parallel[3]


def test_workers_option_is_checked(capsys: Any) -> None:
    assert main(["run", "-n", "many", "scenarios/weekly"]) == 2
    assert "expected a number of workers or 'auto'" in capsys.readouterr().err
