"""The gate's policy spec: YAML validated against ``schemas/gate-spec.schema.json``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import check, read_yaml
from harness.errors import ConfigError

DEFAULT_ADMIN_POLICIES = ("AdministratorAccess", "PowerUserAccess", "IAMFullAccess")
DEFAULT_ZIZMOR_DISABLE = ("excessive-permissions",)  # WF001/WF002 own permission placement
_VAR = re.compile(r"\$\{([A-Za-z0-9:_.-]+)\}")


@dataclass(frozen=True)
class Probe:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    context: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True)
class OidcSpec:
    repository: str
    branches: tuple[str, ...] = ("main",)
    environments: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSpec:
    logical_id: str
    must_allow: tuple[Probe, ...] = ()
    must_deny: tuple[Probe, ...] = ()
    oidc: OidcSpec | None = None


@dataclass(frozen=True)
class LiveSpec:
    role: str  # logical id of the template role the deployed one must match
    role_name: str  # the deployed role's name in IAM


@dataclass
class GateSpec:
    path: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    fail_on: str = "error"
    ignore: tuple[str, ...] = ()
    roles: dict[str, RoleSpec] = field(default_factory=dict)
    admin_policies: tuple[str, ...] = DEFAULT_ADMIN_POLICIES
    deploy_jobs: tuple[str, ...] = ("deploy",)
    role_to_assume: tuple[str, ...] = ()
    workflow_vars: dict[str, str] = field(default_factory=dict)  # ${{ vars.X }} values
    zizmor: bool = True
    zizmor_disable: tuple[str, ...] = DEFAULT_ZIZMOR_DISABLE
    archive_buckets: tuple[str, ...] | None = None
    backup_tags: dict[str, str] = field(default_factory=dict)
    scheduled_functions: tuple[str, ...] = ()
    retention_days: int = 7
    max_backup_age_hours: float = 25.0
    live: LiveSpec | None = None

    def expand(self, text: str) -> str:
        """Substitute ``${Name}`` from ``parameters`` (pseudo-parameters included) in a probe ARN."""

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in self.parameters:
                where = self.path or "policy spec"
                raise ConfigError(f"{where}: ${{{name}}} in {text!r} is not defined under 'parameters'")
            return str(self.parameters[name])

        return _VAR.sub(one, text)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``; did you mean X?`` for the closest choice, or nothing."""
    from difflib import get_close_matches

    lowered = {c.lower(): c for c in choices}
    close = get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f"; did you mean {lowered[close[0]]}?" if close else ""


def check_action(action: str) -> str | None:
    """Why a probe action names nothing (unknown service or action, a wildcard matching none), or None."""
    from harness.gate import actions, patterns

    service, colon, name = action.partition(":")
    if not colon or not service or not name:
        return "is not service:Action"
    wild_service = patterns.has_wildcard(patterns.parse(service))
    if not wild_service and service.lower() not in actions.services():
        return f"names no IAM service {service!r}{did_you_mean(service, actions.services())}"
    if patterns.has_wildcard(patterns.parse(action)):
        if not actions.expand(action):
            known = actions.service_actions(service) if not wild_service else ()
            stem = name.replace("*", "").replace("?", "")
            return f"matches no action{did_you_mean(f'{service}:{stem}', known)}"
        return None
    if not actions.known(action):
        return f"is not an action of {service}{did_you_mean(action, actions.service_actions(service))}"
    return None


def _probes(raw: list[dict[str, Any]] | None, spec: GateSpec, where: str) -> tuple[Probe, ...]:
    out = []
    for index, p in enumerate(raw or []):
        for position, action in enumerate(p["actions"]):
            problem = check_action(str(action))
            if problem:
                place = spec.path or "policy spec"
                raise ConfigError(f"{place}: {where}[{index}].actions[{position}]: {action!r} {problem}")
        out.append(
            Probe(
                actions=tuple(p["actions"]),
                resources=tuple(spec.expand(r) for r in p["resources"]),
                context=dict(p.get("context") or {}),
                name=str(p.get("name", "")),
            )
        )
    return tuple(out)


def parse_spec(data: Any, path: Path | None = None) -> GateSpec:
    check(data, "gate-spec.schema.json", str(path) if path else "policy spec")
    spec = GateSpec(path=path, parameters={str(k): v for k, v in (data.get("parameters") or {}).items()})
    spec.fail_on = data.get("fail_on", "error")
    spec.ignore = tuple(data.get("ignore", ()))
    iam = data.get("iam") or {}
    spec.admin_policies = tuple(iam.get("admin_policies", DEFAULT_ADMIN_POLICIES))
    wf = data.get("workflows") or {}
    spec.deploy_jobs = tuple(wf.get("deploy_jobs", ("deploy",)))
    spec.role_to_assume = tuple(wf.get("role_to_assume", ()))
    spec.workflow_vars = {str(k): str(v) for k, v in (wf.get("vars") or {}).items()}
    spec.zizmor = bool(wf.get("zizmor", True))
    spec.zizmor_disable = tuple(wf.get("zizmor_disable", DEFAULT_ZIZMOR_DISABLE))
    posture = data.get("posture") or {}
    if "archive_buckets" in posture:
        spec.archive_buckets = tuple(posture["archive_buckets"])
    spec.backup_tags = {str(k): str(v) for k, v in (posture.get("backup_tags") or {}).items()}
    spec.scheduled_functions = tuple(posture.get("scheduled_functions", ()))
    db = posture.get("database") or {}
    spec.retention_days = int(db.get("retention_days", 7))
    spec.max_backup_age_hours = float(db.get("max_backup_age_hours", 25))
    for logical_id, role in (data.get("roles") or {}).items():
        oidc = role.get("oidc")
        spec.roles[logical_id] = RoleSpec(
            logical_id=logical_id,
            must_allow=_probes(role.get("must_allow"), spec, f"roles.{logical_id}.must_allow"),
            must_deny=_probes(role.get("must_deny"), spec, f"roles.{logical_id}.must_deny"),
            oidc=OidcSpec(
                repository=oidc["repository"],
                branches=tuple(oidc.get("branches", ("main",))),
                environments=tuple(oidc.get("environments", ())),
            )
            if oidc
            else None,
        )
    live = data.get("live")
    if live:
        role = live.get("role") or (next(iter(spec.roles)) if len(spec.roles) == 1 else None)
        if role is None:
            raise ConfigError(f"{path or 'policy spec'}: live.role: name the template role (several roles)")
        spec.live = LiveSpec(role=str(role), role_name=spec.expand(str(live["role_name"])))
    return spec


def load_spec(path: str | Path | None) -> GateSpec:
    """Load a spec file; no path means the generic rules only (no role expectations)."""
    if path is None:
        return GateSpec()
    path = Path(path)
    data, _ = read_yaml(path, "policy spec")
    return parse_spec(data, path)


def check_names(spec: GateSpec, declared: dict[str, str]) -> None:
    """Refuse posture names that no checked template declares (a typo would switch a check off).

    ``declared`` maps logical ids and Terraform addresses to resource types. A name is held
    to the inputs of its own kind — a Terraform address (``module.x.aws_s3_bucket.y``, it has
    dots) to the Terraform modules, a logical id to the CloudFormation templates — and only
    when some of those declare resources of that kind, so one spec serves the whole
    repository and the gate still runs on a subset of it (the deploy role alone).
    """
    kinds = {
        "archive_buckets": (spec.archive_buckets or (), BUCKET_TYPES),
        "scheduled_functions": (spec.scheduled_functions, FUNCTION_TYPES),
    }
    for setting, (names, types) in kinds.items():
        for index, name in enumerate(names):
            terraform = "." in name
            same_source = {n: t for n, t in declared.items() if ("." in n) == terraform}
            of_kind = [n for n, t in same_source.items() if t in types]
            if not of_kind or name in of_kind:
                continue
            place = f"{spec.path or 'policy spec'}: posture.{setting}[{index}]"
            if name in same_source:
                raise ConfigError(f"{place}: {name} is a {same_source[name]}, not one of {', '.join(types)}")
            raise ConfigError(f"{place}: no checked template declares {name}{did_you_mean(name, of_kind)}")


BUCKET_TYPES = ("AWS::S3::Bucket", "aws_s3_bucket")
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function", "aws_lambda_function")
