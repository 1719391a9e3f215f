"""The repository's workflows and its reusable action: actionlint, the gate, zizmor, permissions, README."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.gate.runner import run_gate
from harness.gate.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    """A linter's executable; under CI a missing one fails the test instead of skipping it."""
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (pip install -e '.[test]')")
        pytest.skip(f"{name} is not installed")
    return found


def run(*cmd: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, cwd=cwd, timeout=120, check=False)


def load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # "on" stays a string key


def load_typed(name: str) -> dict[str, Any]:
    """A workflow with YAML's types (booleans stay booleans), ``on`` under its own name."""
    data: dict[str, Any] = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_actionlint_passes_on_every_workflow() -> None:
    assert len(WORKFLOWS) >= 3
    proc = run(tool("actionlint"), "-no-color", *map(str, WORKFLOWS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_catches_a_broken_action_input(tmp_path: Path) -> None:
    """The test above can fail: a workflow passing an input the action does not declare is an error."""
    shutil.copy(REPO / "action.yml", tmp_path / "action.yml")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.write_text(
        "on: push\npermissions: {contents: read}\njobs:\n  j:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683\n"
        "      - uses: ./\n        with: {scenaro: x}\n"
    )
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    proc = run(tool("actionlint"), "-no-color", str(bad), cwd=tmp_path)
    assert proc.returncode == 1 and "scenaro" in proc.stdout


def test_this_repositorys_workflows_pass_the_gate() -> None:
    tool("zizmor")
    report = run_gate(
        load_spec(REPO / "fixtures" / "gate" / "spec.yaml"), [REPO / ".github" / "workflows"], lint=False
    )
    assert report.passed, [f"{f.rule} {f.file}:{f.line} {f.message}" for f in report.failing()]
    assert len(report.workflows) == len(WORKFLOWS)


def test_the_action_passes_zizmor_with_hash_pins(tmp_path: Path) -> None:
    config = tmp_path / "zizmor.yml"
    config.write_text('rules:\n  unpinned-uses:\n    config:\n      policies:\n        "*": hash-pin\n')
    proc = run(tool("zizmor"), "--offline", "--no-progress", "--config", str(config), "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_action_declares_its_interface_and_the_workflows_use_it() -> None:
    action = load(REPO / "action.yml")
    assert action["runs"]["using"] == "composite"
    assert {"scenario", "aws-provider", "evidence-dir", "signing-key-env"} <= set(action["inputs"])
    assert {"verdict", "exit-code", "evidence-path"} <= set(action["outputs"])
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    assert any(u.startswith("actions/upload-artifact@") for u in uses)
    for name in ("drills.yml", "gate.yml"):
        steps = [
            s
            for job in load(REPO / ".github" / "workflows" / name)["jobs"].values()
            for s in job.get("steps", [])
        ]
        assert any(s.get("uses") == "./" for s in steps), name


def test_only_the_attest_job_can_mint_an_oidc_token() -> None:
    for path in WORKFLOWS:
        data = load(path)
        assert data["permissions"] == {"contents": "read"}, path.name
        for job_id, job in data["jobs"].items():
            perms = job.get("permissions") or {}
            allowed = path.name == "drills.yml" and job_id == "attest"
            assert (perms.get("id-token") == "write") == allowed, (path.name, job_id)
    attest = load(REPO / ".github" / "workflows" / "drills.yml")["jobs"]["attest"]
    assert attest["permissions"] == {"contents": "read", "id-token": "write", "attestations": "write"}
    assert any(s.get("uses", "").startswith("actions/attest-build-provenance@") for s in attest["steps"])


def test_readme_first_section_keeps_two_setup_commands_and_shows_a_five_line_adoption() -> None:
    text = (REPO / "README.md").read_text()
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    first = sections[1]
    commands = [
        line
        for block in re.findall(r"```sh\n(.*?)```", first, flags=re.DOTALL)
        for line in block.splitlines()
        if line.strip()
    ]
    assert len(commands) == 2, commands
    adoption = next(s for s in sections[2:] if s.lower().startswith("use it from another repository"))
    (block,) = re.findall(r"```yaml\n(.*?)```", adoption, flags=re.DOTALL)
    lines = block.strip("\n").splitlines()
    assert len(lines) == 5 and any("uses:" in line for line in lines)
    parsed = yaml.safe_load(block)
    action = next(step for step in parsed if step["uses"].split("@")[0].endswith("/drill-harness"))
    assert set(action["with"]) <= set(load(REPO / "action.yml")["inputs"])


def test_drills_dispatch_has_the_inputs_on_call_needs() -> None:
    drills = load_typed("drills.yml")
    inputs = drills["on"]["workflow_dispatch"]["inputs"]
    assert {"scenario", "environment", "archive", "aws_provider"} <= set(inputs)
    assert inputs["archive"]["required"] is False
    assert inputs["aws_provider"]["options"] == ["embedded", "localstack", "aws"]
    assert "schedule" in drills["on"]
    job = drills["jobs"]["drill"]
    run = "\n".join(step.get("run", "") for step in job["steps"])
    assert "apt-get install -y pgbackrest" in run
    assert "${{" not in run  # inputs reach a shell through env only
    (action,) = [step for step in job["steps"] if step.get("uses") == "./"]
    assert "inputs.archive" in action["with"]["args"] and "--archive" in action["with"]["args"]
    assert job["environment"] == "drills-${{ inputs.environment || 'drill' }}"


def test_production_restore_is_dispatch_only_protected_and_ordered() -> None:
    restore = load_typed("restore-production.yml")
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
