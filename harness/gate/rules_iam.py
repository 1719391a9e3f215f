"""Deploy-role rules: required access, forbidden scope, wildcards, admin policies, PassRole, spec roles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from harness.gate import actions, patterns
from harness.gate.checks import check_family
from harness.gate.findings import Finding
from harness.gate.iam import PolicyError, Request, Statement, action_matches, evaluate
from harness.gate.policies import RolePolicies
from harness.gate.spec import GateSpec, Probe, RoleSpec


def _finding(rp: RolePolicies, line: int, rule: str, message: str, severity: str = "error") -> Finding:
    return Finding(str(rp.template.path), line, rule, severity, rp.logical_id, message)


def _probe_actions(probe: Probe) -> list[str]:
    out: list[str] = []
    for a in probe.actions:
        out.extend(actions.expand(a))
    return out


def _nearest_line(rp: RolePolicies, action: str) -> int:
    """Where a missing permission belongs: a statement granting the action elsewhere, or its service."""
    allows = [s for s in rp.statements if s.effect == "Allow" and s.not_actions is None]
    for stmt in allows:
        if any(action_matches(a, action) for a in stmt.actions):
            return stmt.line
    service = action.partition(":")[0].lower()
    for stmt in allows:
        if any(a.lower().startswith(service + ":") for a in stmt.actions):
            return stmt.line
    return rp.line


def check_must_allow(rp: RolePolicies, role: RoleSpec) -> Iterator[Finding]:
    missing: dict[int, list[str]] = {}
    for probe in role.must_allow:
        for action in _probe_actions(probe):
            for resource in probe.resources:
                result = evaluate(rp.statements, Request.make(action, resource, probe.context), "all")
                if not result.allowed:
                    why = "explicitly denied" if result.denied_by else "not allowed"
                    missing.setdefault(_nearest_line(rp, action), []).append(
                        f"{action} on {resource} ({why})"
                    )
    for line, items in sorted(missing.items()):
        yield _finding(rp, line, "IAM001", "required access missing: " + "; ".join(items))


def check_must_deny(rp: RolePolicies, role: RoleSpec) -> Iterator[Finding]:
    leaks: dict[int, list[str]] = {}
    for probe in role.must_deny:
        for action in _probe_actions(probe):
            for resource in probe.resources:
                result = evaluate(rp.statements, Request.make(action, resource, probe.context), "any")
                if result.allowed:
                    label = f" [{probe.name}]" if probe.name else ""
                    leaks.setdefault(result.allowed_by[0].line, []).append(f"{action} on {resource}{label}")
    for line, items in sorted(leaks.items()):
        yield _finding(rp, line, "IAM002", "allows access outside its scope: " + "; ".join(items))


def _is_any_resource(stmt: Statement) -> bool:
    return stmt.not_resources is not None or "*" in stmt.resources


def check_statements(rp: RolePolicies, statements: list[Statement]) -> Iterator[Finding]:
    """Rules on the shape of Allow statements: IAM003, IAM004, IAM006, IAM007."""
    for stmt in statements:
        if stmt.effect != "Allow":
            continue
        if stmt.not_actions is not None:
            yield _finding(
                rp, stmt.line, "IAM003", f"Allow with NotAction grants every other action ({stmt.source})"
            )
            continue
        full = [a for a in stmt.actions if a in ("*", "*:*")]
        if full:
            yield _finding(rp, stmt.line, "IAM003", f"Allow grants every action ({full[0]}) in {stmt.source}")
            continue
        service_wide = [a for a in stmt.actions if a.endswith(":*")]
        if service_wide:
            yield _finding(rp, stmt.line, "IAM004", f"Allow grants whole services: {', '.join(service_wide)}")
        scoped_entries = [a for a in stmt.actions if not a.endswith(":*")]
        yield from _check_passrole(rp, stmt)
        if _is_any_resource(stmt):
            powerful = sorted(
                {
                    act
                    for entry in scoped_entries
                    for act in actions.expand(entry)
                    if act.lower() != "iam:passrole"
                    and actions.access_level(act) in actions.POWERFUL_LEVELS
                    and not actions.wildcard_only(act)
                }
            )
            if powerful:
                listed = ", ".join(powerful[:8]) + (
                    f" (+{len(powerful) - 8} more)" if len(powerful) > 8 else ""
                )
                yield _finding(
                    rp, stmt.line, "IAM006", f"write/permissions-management actions on '*': {listed}"
                )


def _check_passrole(rp: RolePolicies, stmt: Statement) -> Iterator[Finding]:
    if not any(action_matches(a, "iam:PassRole") for a in stmt.actions if not a.endswith(":*")):
        return
    broad = [
        r for r in stmt.resources if patterns.covers(patterns.parse(r), patterns.parse("arn:*:iam::*:role/x"))
    ]
    if stmt.not_resources is not None or "*" in stmt.resources or broad:
        yield _finding(
            rp, stmt.line, "IAM007", "iam:PassRole on any role; scope it to the roles the stack uses"
        )
    elif not any("iam:passedtoservice" in {k.lower() for k in keys} for keys in stmt.condition.values()):
        yield _finding(
            rp,
            stmt.line,
            "IAM007",
            "iam:PassRole without an iam:PassedToService condition",
            severity="warning",
        )


def check_managed(rp: RolePolicies, spec: GateSpec) -> Iterator[Finding]:
    admin = {name.lower() for name in spec.admin_policies}
    for arn, line in rp.managed_arns:
        name = arn.rsplit("/", 1)[-1]
        if ":iam::aws:policy/" in arn and name.lower() in admin:
            yield _finding(rp, line, "IAM005", f"admin managed policy attached: {arn}")


@check_family(
    "role-policies",
    "role",
    emits=("GATE000", "IAM001", "IAM002", "IAM003", "IAM004", "IAM005", "IAM006", "IAM007"),
)
def check_role(rp: RolePolicies, spec: GateSpec) -> list[Finding]:
    findings = list(rp.errors)
    findings += check_statements(rp, rp.statements)
    findings += check_managed(rp, spec)
    role = spec.roles.get(rp.logical_id)
    if role is not None:
        try:
            findings += check_must_allow(rp, role)
            findings += check_must_deny(rp, role)
        except PolicyError as exc:
            findings.append(_finding(rp, rp.line, "GATE000", str(exc)))
    return findings


def _spec_line(spec: GateSpec, key: str) -> int:
    if spec.path is None:
        return 1
    for number, text in enumerate(spec.path.read_text(encoding="utf-8").splitlines(), 1):
        if text.strip().startswith(f"{key}:"):
            return number
    return 1


@check_family("spec-roles", "templates", emits=("IAM008",))
def check_spec_roles(
    templates: Sequence[Path], roles_seen: Sequence[str], spec: GateSpec
) -> Iterator[Finding]:
    """Every role the spec names must be declared in some template checked (when templates were given)."""
    for logical_id in spec.roles:
        if templates and logical_id not in roles_seen:
            msg = f"role {logical_id} from the spec is not declared in any template checked"
            yield Finding(
                str(spec.path or "spec"), _spec_line(spec, logical_id), "IAM008", "error", logical_id, msg
            )
