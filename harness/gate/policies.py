"""Collect the identity and trust policies a template declares, per role, with their lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.gate.findings import Finding
from harness.gate.iam import PolicyError, Statement, parse_statement
from harness.gate.templates import Resolver, Template, key_line, line

ROLE = "AWS::IAM::Role"
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy")


@dataclass
class RolePolicies:
    template: Template
    logical_id: str
    line: int
    statements: list[Statement] = field(default_factory=list)
    trust: list[Statement] = field(default_factory=list)
    trust_raw: list[Any] = field(default_factory=list)  # decoded statement nodes (for lines)
    managed_arns: list[tuple[str, int]] = field(default_factory=list)  # (resolved ARN, line)
    errors: list[Finding] = field(default_factory=list)


def statements_of(
    document: Any, resolver: Resolver, source: str, errors: list[Finding], resource: str
) -> tuple[list[Statement], list[Any]]:
    """Resolve and parse each statement of a decoded policy document; bad ones become GATE000 findings."""
    out: list[Statement] = []
    raws: list[Any] = []
    if not isinstance(document, dict):
        return out, raws
    raw = document.get("Statement")
    raw_list = raw if isinstance(raw, list) else [raw] if raw is not None else []
    for index, node in enumerate(raw_list):
        where = line(node, line(document))
        try:
            out.append(parse_statement(resolver.resolve(node), f"{source}/Statement/{index}", where))
            raws.append(node)
        except PolicyError as exc:
            errors.append(Finding(str(resolver.template.path), where, "GATE000", "error", resource, str(exc)))
    return out, raws


def _attached_roles(props: dict[str, Any]) -> list[str]:
    roles = props.get("Roles") or ([props["RoleName"]] if "RoleName" in props else [])
    names = []
    for r in roles if isinstance(roles, list) else []:
        if isinstance(r, dict) and "Ref" in r:
            names.append(str(r["Ref"]))
    return names


def collect_roles(template: Template, resolver: Resolver) -> dict[str, RolePolicies]:
    roles: dict[str, RolePolicies] = {}
    for logical_id, _ in template.resources(ROLE):
        rp = RolePolicies(template, logical_id, template.resource_line(logical_id))
        props = template.properties(logical_id)
        for index, pol in enumerate(props.get("Policies") or []):
            if not isinstance(pol, dict):
                continue
            name = str(resolver.resolve(pol.get("PolicyName", index)))
            stmts, _ = statements_of(
                pol.get("PolicyDocument"), resolver, f"{logical_id}/Policies/{name}", rp.errors, logical_id
            )
            rp.statements.extend(stmts)
        trust, raws = statements_of(
            props.get("AssumeRolePolicyDocument"), resolver, f"{logical_id}/AssumeRolePolicyDocument",
            rp.errors, logical_id,
        )  # fmt: skip
        rp.trust, rp.trust_raw = trust, raws
        arns = props.get("ManagedPolicyArns") or []
        for node in arns if isinstance(arns, list) else []:
            rp.managed_arns.append(
                (str(resolver.resolve(node)), line(node, key_line(props, "ManagedPolicyArns")))
            )
        roles[logical_id] = rp
    # Policies declared as separate resources and attached with Roles: [!Ref Role]
    for logical_id, _ in template.resources(*POLICY_TYPES):
        props = template.properties(logical_id)
        for role in _attached_roles(props):
            if role in roles:
                stmts, _ = statements_of(
                    props.get("PolicyDocument"), resolver, logical_id, roles[role].errors, logical_id
                )
                roles[role].statements.extend(stmts)
    return roles


def function_statements(template: Template, resolver: Resolver, logical_id: str) -> list[Statement]:
    """Inline statements of a SAM function's ``Policies`` (policy templates and ARNs are not expanded)."""
    props = template.properties(logical_id)
    policies = props.get("Policies")
    docs = policies if isinstance(policies, list) else [policies] if policies else []
    out: list[Statement] = []
    errors: list[Finding] = []
    for index, doc in enumerate(docs):
        if isinstance(doc, dict) and "Statement" in doc:
            stmts, _ = statements_of(doc, resolver, f"{logical_id}/Policies/{index}", errors, logical_id)
            out.extend(stmts)
    role = props.get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        role_id = str(target[0] if isinstance(target, list) else str(target).split(".")[0])
        rp = collect_roles(template, resolver).get(role_id)
        if rp:
            out.extend(rp.statements)
    return out
