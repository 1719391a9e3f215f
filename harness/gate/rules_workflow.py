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

from harness.gate.checks import check_family
from harness.gate.findings import Finding
from harness.gate.spec import GateSpec
from harness.gate.templates import key_line, line

CONFIGURE_AWS = "aws-actions/configure-aws-credentials"
ZIZMOR_SEVERITY = {"High": "error", "Medium": "warning", "Low": "note", "Informational": "note"}


def load_workflow(path: Path) -> Any:
    """Decode with line marks (:mod:`harness.gate.decode`; ``on`` becomes the key ``True``)."""
    from harness.errors import ConfigError
    from harness.gate.decode import DecodeError, load

    try:
        return load(path)
    except DecodeError as exc:
        raise ConfigError(f"{path}:{exc.line}: {exc}") from None


def looks_like_workflow(data: Any, path: Path) -> bool:
    return isinstance(data, dict) and "jobs" in data and (True in data or "on" in data)


def _writes(perms: Any) -> dict[str, int]:
    """Scopes granted write, with lines; ``write-all`` counts as every scope at the key's line."""
    return {str(k): line(k) for k, v in perms.items() if str(v) == "write"} if isinstance(perms, dict) else {}


@check_family("workflow-permissions", "workflow", emits=("WF001", "WF002", "WF003", "WF004"))
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
        yield from _check_role(file, str(job_id), job, spec, _env(data.get("env")))


def _env(node: Any) -> dict[str, Any]:
    return {str(k): v for k, v in node.items()} if isinstance(node, dict) else {}


def resolve_expressions(text: str, env: dict[str, Any], variables: dict[str, str]) -> tuple[str, list[str]]:
    """Replace ``${{ env.X }}`` (step, job, workflow ``env``) and ``${{ vars.X }}`` (the spec's
    ``workflows.vars``); returns the text and the expressions that could not be resolved."""
    out: list[str] = []
    unresolved: list[str] = []
    pos = 0
    for _ in range(len(text)):
        start = text.find("${{", pos)
        end = text.find("}}", start + 3) if start >= 0 else -1
        if start < 0 or end < 0:
            break
        out.append(text[pos:start])
        pos = end + 2
        expr = text[start + 3 : end].strip()
        scope, dot, name = expr.partition(".")
        value: Any = None
        if dot and scope == "env" and name in env:
            value = env[name]
            if isinstance(value, str) and "${{" in value:
                value, inner = resolve_expressions(
                    value, {k: v for k, v in env.items() if k != name}, variables
                )
                unresolved += inner
        elif dot and scope == "vars" and name in variables:
            value = variables[name]
        if value is None or isinstance(value, dict | list):
            unresolved.append(expr)
            out.append(text[start:pos])
        else:
            out.append(str(value))
    out.append(text[pos:])
    return "".join(out), unresolved


def _check_role(
    file: str, job_id: str, job: dict[str, Any], spec: GateSpec, workflow_env: dict[str, Any]
) -> Iterator[Finding]:
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
            continue
        if not spec.role_to_assume:
            continue
        env = {**workflow_env, **_env(job.get("env")), **_env(step.get("env"))}
        resolved, unresolved = resolve_expressions(str(role), env, spec.workflow_vars)
        if unresolved:
            names = ", ".join(f"${{{{ {e} }}}}" for e in unresolved)
            msg = (
                f"role-to-assume uses {names}, which the gate cannot resolve from the workflow's env: "
                "set the value under workflows.vars in the spec (or ignore WF004)"
            )
            yield Finding(file, at, "WF004", "error", job_id, msg)
        elif resolved not in spec.role_to_assume:
            expected = " or ".join(spec.role_to_assume)
            via = f" (from {role!r})" if resolved != str(role) else ""
            yield Finding(
                file, at, "WF003", "error", job_id, f"assumes {resolved!r}{via}, expected {expected}"
            )


def _zizmor_config(disabled: Sequence[str]) -> str:
    lines = ["rules:", "  unpinned-uses:", "    config:", "      policies:", '        "*": hash-pin']
    for ident in disabled:
        lines += [f"  {ident}:", "    disable: true"]
    return "\n".join(lines) + "\n"


_STARTED: dict[tuple[str, ...], tuple[subprocess.Popen[str], str]] = {}


def start_zizmor(paths: Sequence[Path], spec: GateSpec) -> None:
    """Start zizmor in the background; the runner calls this first so it runs beside the other checks."""
    exe = shutil.which("zizmor")
    key = tuple(map(str, paths))
    if not paths or not spec.zizmor or exe is None or key in _STARTED:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as cfg:
        cfg.write(_zizmor_config(spec.zizmor_disable))
    command = [exe, "--offline", "--no-progress", "--config", cfg.name, "--format", "json", *key]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _STARTED[key] = (proc, cfg.name)


def stop_zizmor() -> None:
    """End zizmor runs nobody collected (the gate stopped early on a configuration error)."""
    while _STARTED:
        _, (proc, cfg) = _STARTED.popitem()
        proc.kill()
        proc.communicate()
        Path(cfg).unlink(missing_ok=True)


@check_family("zizmor", "workflows", emits=("zizmor/*", "TOOL001"))
def run_zizmor(paths: Sequence[Path], spec: GateSpec) -> list[Finding]:
    """zizmor's findings on the workflows, or one TOOL001 warning when it is not installed."""
    if not paths or not spec.zizmor:
        return []
    if shutil.which("zizmor") is None:
        msg = "zizmor is not installed: generic workflow audits (SHA pinning, injection) were skipped"
        return [Finding(str(paths[0]), 1, "TOOL001", "warning", "zizmor", msg)]
    start_zizmor(paths, spec)
    proc, cfg = _STARTED.pop(tuple(map(str, paths)))
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return [Finding(str(paths[0]), 1, "TOOL001", "warning", "zizmor", "zizmor timed out after 120 s")]
    finally:
        Path(cfg).unlink(missing_ok=True)
    try:
        results = json.loads(out or "[]")
    except json.JSONDecodeError:
        msg = f"zizmor failed (exit {proc.returncode}): {err.strip()[-300:]}"
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
