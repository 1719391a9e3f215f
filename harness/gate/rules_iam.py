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


def _finding(
    rp: RolePolicies, line: int, rule: str, message: str, severity: str = "error", anchor: int = 0
) -> Finding:
    return Finding(str(rp.template.path), line, rule, severity, rp.logical_id, message, anchor)


def _resource_line(stmt: Statement) -> int:
    if stmt.not_resources is not None:
        return stmt.line_of("NotResource")
    wild = "*" if "*" in stmt.resources else None
    return stmt.line_of("Resource", wild)


def _probe_actions(probe: Probe) -> list[str]:
    out: list[str] = []
    for a in probe.actions:
        out.extend(actions.expand(a))
    return out


def _nearest(rp: RolePolicies, action: str) -> tuple[int, int]:
    """Where a missing permission belongs, as (line, statement line): the ``Resource`` of a
    statement granting the action elsewhere, or the ``Action`` of one of its service."""
    allows = [s for s in rp.statements if s.effect == "Allow" and s.not_actions is None]
    for stmt in allows:
        if any(action_matches(a, action) for a in stmt.actions):
            return _resource_line(stmt), stmt.line
    service = action.partition(":")[0].lower()
    for stmt in allows:
        if any(a.lower().startswith(service + ":") for a in stmt.actions):
            return stmt.line_of("Action"), stmt.line
    return rp.line, rp.line


def check_must_allow(rp: RolePolicies, role: RoleSpec) -> Iterator[Finding]:
    missing: dict[tuple[int, int], list[str]] = {}
    for probe in role.must_allow:
        for action in _probe_actions(probe):
            for resource in probe.resources:
                result = evaluate(rp.statements, Request.make(action, resource, probe.context), "all")
                if not result.allowed:
                    why = "explicitly denied" if result.denied_by else "not allowed"
                    missing.setdefault(_nearest(rp, action), []).append(f"{action} on {resource} ({why})")
    for (line, anchor), items in sorted(missing.items()):
        yield _finding(rp, line, "IAM001", "required access missing: " + "; ".join(items), anchor=anchor)


def check_must_deny(rp: RolePolicies, role: RoleSpec) -> Iterator[Finding]:
    leaks: dict[tuple[int, int], list[str]] = {}
    for probe in role.must_deny:
        for action in _probe_actions(probe):
            for resource in probe.resources:
                result = evaluate(rp.statements, Request.make(action, resource, probe.context), "any")
                if result.allowed:
                    label = f" [{probe.name}]" if probe.name else ""
                    by = result.allowed_by[0]
                    leaks.setdefault((_resource_line(by), by.line), []).append(
                        f"{action} on {resource}{label}"
                    )
    for (line, anchor), items in sorted(leaks.items()):
        yield _finding(
            rp, line, "IAM002", "allows access outside its scope: " + "; ".join(items), anchor=anchor
        )


def _is_any_resource(stmt: Statement) -> bool:
    return stmt.not_resources is not None or "*" in stmt.resources


def check_statements(rp: RolePolicies, statements: list[Statement]) -> Iterator[Finding]:
    """Rules on the shape of Allow statements: IAM003, IAM004, IAM006, IAM007."""
    for stmt in statements:
        if stmt.effect != "Allow":
            continue
        at = stmt.line
        if stmt.not_actions is not None:
            msg = f"Allow with NotAction grants every other action ({stmt.source})"
            yield _finding(rp, stmt.line_of("NotAction"), "IAM003", msg, anchor=at)
            continue
        full = [a for a in stmt.actions if a in ("*", "*:*")]
        if full:
            msg = f"Allow grants every action ({full[0]}) in {stmt.source}"
            yield _finding(rp, stmt.line_of("Action", full[0]), "IAM003", msg, anchor=at)
            continue
        service_wide = [a for a in stmt.actions if a.endswith(":*")]
        if service_wide:
            msg = f"Allow grants whole services: {', '.join(service_wide)}"
            yield _finding(rp, stmt.line_of("Action", service_wide[0]), "IAM004", msg, anchor=at)
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
                msg = f"write/permissions-management actions on '*': {listed}"
                yield _finding(rp, _resource_line(stmt), "IAM006", msg, anchor=at)


def _check_passrole(rp: RolePolicies, stmt: Statement) -> Iterator[Finding]:
    if not any(action_matches(a, "iam:PassRole") for a in stmt.actions if not a.endswith(":*")):
        return
    broad = [
        r for r in stmt.resources if patterns.covers(patterns.parse(r), patterns.parse("arn:*:iam::*:role/x"))
    ]
    if stmt.not_resources is not None or "*" in stmt.resources or broad:
        msg = "iam:PassRole on any role; scope it to the roles the stack uses"
        line = stmt.line_of("NotResource") if stmt.not_resources is not None else stmt.line_of("Resource")
        yield _finding(rp, line, "IAM007", msg, anchor=stmt.line)
    elif not any("iam:passedtoservice" in {k.lower() for k in keys} for keys in stmt.condition.values()):
        msg = "iam:PassRole without an iam:PassedToService condition"
        line = stmt.line_of("Condition") if stmt.condition else _passrole_line(stmt)
        yield _finding(rp, line, "IAM007", msg, severity="warning", anchor=stmt.line)


def _passrole_line(stmt: Statement) -> int:
    entry = next((a for a in stmt.actions if action_matches(a, "iam:PassRole")), None)
    return stmt.line_of("Action", entry)


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
