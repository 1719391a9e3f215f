"""GitHub Actions workflows: permission placement and the assumed role (ours), generic audits (zizmor).

zizmor (https://docs.zizmor.sh) covers the generic audits — SHA pinning (configured to
require hash pins for every action), template injection, credential persistence, ... — and
runs as a subprocess when installed. Its ``excessive-permissions`` audit is switched off
by default because WF001/WF002 own permission placement and must report it exactly once.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

from harness.gate.checks import check_family
from harness.gate.findings import Finding
from harness.gate.spec import GateSpec
from harness.gate.templates import key_line, line

CONFIGURE_AWS = "aws-actions/configure-aws-credentials"
ZIZMOR_SEVERITY = {"High": "error", "Medium": "warning", "Low": "note", "Informational": "note"}


def load_workflow(path: Path) -> Any:
    """Decode with line marks (cfn-lint's YAML loader; ``on`` becomes the key ``True``)."""
    return cfn_yaml.loads(path.read_text(encoding="utf-8"), str(path))


def looks_like_workflow(data: Any, path: Path) -> bool:
    return isinstance(data, dict) and "jobs" in data and (True in data or "on" in data)


def _writes(perms: Any) -> dict[str, int]:
    """Scopes granted write, with lines; ``write-all`` counts as every scope at the key's line."""
    return {str(k): line(k) for k, v in perms.items() if str(v) == "write"} if isinstance(perms, dict) else {}


@check_family("workflow-permissions", "workflow", emits=("WF001", "WF002", "WF003"))
def check_workflow(path: Path, data: dict[str, Any], spec: GateSpec) -> Iterator[Finding]:
    file = str(path)
    perms = data.get("permissions")
    perms_line = key_line(data, "permissions", 1)
    if perms is None:
        msg = "no workflow-level permissions: jobs inherit the repository default, which may be write-all"
        yield Finding(file, 1, "WF002", "error", "workflow", msg)
    elif perms == "write-all":
        yield Finding(
            file, perms_line, "WF001", "error", "workflow", "write-all grants id-token: write to every job"
        )
    elif isinstance(perms, dict):
        for scope, at in _writes(perms).items():
            if scope == "id-token":
                msg = "id-token: write at workflow level: every job can mint an AWS OIDC token"
                yield Finding(file, at, "WF001", "error", "workflow", msg)
            else:
                yield Finding(file, at, "WF002", "error", "workflow", f"workflow-level {scope}: write")
    jobs = data.get("jobs") or {}
    for job_id, job in jobs.items() if isinstance(jobs, dict) else []:
        if not isinstance(job, dict):
            continue
        job_perms = job.get("permissions")
        deploy = str(job_id) in spec.deploy_jobs
        if not deploy:
            at = key_line(job, "permissions", line(job_id))
            if job_perms == "write-all" or "id-token" in _writes(job_perms):
                at = _writes(job_perms).get("id-token", at)
                allowed = ", ".join(spec.deploy_jobs)
                msg = f"job {job_id!r} is not a deploy job ({allowed}) but gets id-token: write"
                yield Finding(file, at, "WF001", "error", str(job_id), msg)
        yield from _check_role(file, str(job_id), job, spec)


def _check_role(file: str, job_id: str, job: dict[str, Any], spec: GateSpec) -> Iterator[Finding]:
    for step in job.get("steps") or []:
        if not isinstance(step, dict) or not str(step.get("uses", "")).startswith(CONFIGURE_AWS):
            continue
        with_ = step.get("with") or {}
        role = with_.get("role-to-assume")
        at = key_line(with_, "role-to-assume", line(step))
        if role is None:
            yield Finding(
                file, line(step), "WF003", "error", job_id, "configure-aws-credentials without role-to-assume"
            )
        elif spec.role_to_assume and str(role) not in spec.role_to_assume:
            expected = " or ".join(spec.role_to_assume)
            yield Finding(file, at, "WF003", "error", job_id, f"assumes {role!r}, expected {expected}")


def _zizmor_config(disabled: Sequence[str]) -> str:
    lines = ["rules:", "  unpinned-uses:", "    config:", "      policies:", '        "*": hash-pin']
    for ident in disabled:
        lines += [f"  {ident}:", "    disable: true"]
    return "\n".join(lines) + "\n"


@check_family("zizmor", "workflows", emits=("zizmor/*", "TOOL001"))
def run_zizmor(paths: Sequence[Path], spec: GateSpec) -> list[Finding]:
    """zizmor's findings on the workflows, or one TOOL001 warning when it is not installed."""
    if not paths or not spec.zizmor:
        return []
    exe = shutil.which("zizmor")
    if exe is None:
        msg = "zizmor is not installed: generic workflow audits (SHA pinning, injection) were skipped"
        return [Finding(str(paths[0]), 1, "TOOL001", "warning", "zizmor", msg)]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as cfg:
        cfg.write(_zizmor_config(spec.zizmor_disable))
    try:
        proc = subprocess.run(
            [exe, "--offline", "--no-progress", "--config", cfg.name, "--format", "json", *map(str, paths)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        Path(cfg.name).unlink(missing_ok=True)
    try:
        results = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        msg = f"zizmor failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
        return [Finding(str(paths[0]), 1, "TOOL001", "warning", "zizmor", msg)]
    return [_zizmor_finding(r) for r in results if not r.get("ignored")]


def _zizmor_finding(result: dict[str, Any]) -> Finding:
    locs = result.get("locations") or [{}]
    primary = next((loc for loc in locs if loc.get("symbolic", {}).get("kind") == "Primary"), locs[0])
    symbolic = primary.get("symbolic", {})
    file = symbolic.get("key", {}).get("Local", {}).get("given_path") or symbolic.get("key", {}).get(
        "Local", {}
    ).get("verbatim_path", "")
    row = primary.get("concrete", {}).get("location", {}).get("start_point", {}).get("row", 0)
    severity = ZIZMOR_SEVERITY.get(result.get("determinations", {}).get("severity", ""), "warning")
    message = f"{result.get('desc', '')}: {symbolic.get('annotation', '')}".strip(": ")
    return Finding(str(file), int(row) + 1, f"zizmor/{result.get('ident')}", severity, "workflow", message)
