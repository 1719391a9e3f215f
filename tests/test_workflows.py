"""This repository's workflows: the drills dispatch inputs on-call needs, and the production
restore behind a protected environment; both pass the repository's own gate (`drill gate`)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from harness.gate.runner import run_gate
from harness.gate.spec import load_spec
from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_every_workflow_passes_the_gate() -> None:
    report = run_gate(
        load_spec(REPO / "fixtures" / "gate" / "spec.yaml"), [REPO / "fixtures" / "gate" / "good", WORKFLOWS]
    )
    assert [f for f in report.findings if f.file.startswith(str(WORKFLOWS))] == []
    assert report.passed
    assert len(report.workflows) >= 5


def test_drills_dispatch_has_the_inputs_on_call_needs() -> None:
    drills = load("drills.yml")
    inputs = drills["on"]["workflow_dispatch"]["inputs"]
    assert {"scenario", "environment", "archive", "aws_provider"} <= set(inputs)
    assert inputs["archive"]["required"] is False
    assert inputs["aws_provider"]["options"] == ["embedded", "localstack", "aws"]
    assert "schedule" in drills["on"]
    job = drills["jobs"]["drill"]
    run = "\n".join(step.get("run", "") for step in job["steps"])
    assert "apt-get install -y pgbackrest" in run
    assert '--archive "$ARCHIVE"' in run
    assert "${{" not in run  # inputs reach the shell through env only


def test_production_restore_is_dispatch_only_protected_and_ordered() -> None:
    restore = load("restore-production.yml")
    assert set(restore["on"]) == {"workflow_dispatch"}  # never scheduled, never on push or PR
    inputs = restore["on"]["workflow_dispatch"]["inputs"]
    assert inputs["approval"]["required"] is True
    assert restore["permissions"] == {"contents": "read"}
    assert restore["concurrency"]["cancel-in-progress"] is False
    (job,) = restore["jobs"].values()
    assert job["environment"] == "production-restore"
    assert job["timeout-minutes"] <= 180
    assert job["permissions"] == {"contents": "read"}
    runs = [step.get("run", "") for step in job["steps"]]
    order = [
        next(i for i, r in enumerate(runs) if needle in r)
        for needle in ("APPROVAL", "drill validate", "drill dry-run", "drill restore")
    ]
    assert order == sorted(order)
    restore_step = next(r for r in runs if "drill restore" in r)
    assert '--approve-production "$APPROVAL"' in restore_step and "--evidence-dir reports" in restore_step
    assert all("${{" not in r for r in runs)
    for step in job["steps"]:
        if "uses" in step:
            assert re.fullmatch(r"[\w./-]+@[0-9a-f]{40}", step["uses"]), step["uses"]  # pinned by commit SHA


def test_ci_installs_pgbackrest_then_runs_the_readme_test_command() -> None:
    script = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    command = "python -m pip install -e '.[test]' && python -m pytest"
    assert command in readme
    lines = [line.strip() for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[-1] == command  # the README's test command, last
    install = next(i for i, line in enumerate(lines) if "apt-get install -y pgbackrest" in line)
    assert "apt-get update &&" in lines[install] and install < len(lines) - 1
