"""Collect the identity and trust policies a template declares, per role, with their lines.

Roles are ``AWS::IAM::Role`` resources (inline ``Policies``, ``ManagedPolicyArns`` and
policies attached with ``Roles: [!Ref Role]``) and the roles SAM generates for functions
and state machines without a ``Role`` (``<Id>Role``, from their ``Policies``: see
:mod:`harness.gate.sam`). Every statement carries the lines of its elements and entries,
so a finding points at the ``Action``/``Resource``/``Condition`` that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.gate import sam
from harness.gate.findings import Finding
from harness.gate.iam import Kind, PolicyError, Statement, document_version, parse_statement
from harness.gate.templates import NO_VALUE, Resolver, Template, key_line, line

ROLE = "AWS::IAM::Role"
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy")
ELEMENTS = (
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Principal",
    "NotPrincipal",
)


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
    generated_by: str = ""  # the SAM resource whose role this is ("" for AWS::IAM::Role)
    documents: list[tuple[str, Any]] = field(default_factory=list)  # resolved inline policies (name, doc)
    trust_document: Any = None  # the resolved AssumeRolePolicyDocument


def _element_lines(node: Any, resolver: Resolver, default: int) -> dict[str, int]:
    """Lines of a statement's elements and of each entry (``Action:events:*``) where decoded."""
    lines: dict[str, int] = {}
    if not isinstance(node, Mapping):
        return lines
    for element in ELEMENTS:
        if element not in node:
            continue
        lines[element] = key_line(node, element, default)
        value = node[element]
        items = value if isinstance(value, list) else [value]
        if isinstance(value, Mapping) and not _is_intrinsic(value):  # Principal: {Federated: ...}
            items = [i for v in value.values() for i in (v if isinstance(v, list) else [v])]
        for item in items:
            at = line(item, 0)
            if at:
                resolved = resolver.resolve(item)
                for text in resolved if isinstance(resolved, list) else [resolved]:
                    lines.setdefault(f"{element}:{text}", at)
    return lines


def _is_intrinsic(node: Mapping[str, Any]) -> bool:
    return len(node) == 1 and any(k == "Ref" or str(k).startswith("Fn::") for k in node)


def statements_of(
    document: Any,
    resolver: Resolver,
    source: str,
    errors: list[Finding],
    resource: str,
    *,
    kind: Kind = "identity",
    default_line: int = 0,
) -> tuple[list[Statement], list[Any]]:
    """Resolve and parse each statement of a decoded policy document; bad ones become GATE000 findings."""
    out: list[Statement] = []
    raws: list[Any] = []
    file = str(resolver.template.path)
    doc_line = line(document, default_line)
    if document is None:
        return out, raws  # an absent document is cfn-lint's to report (required property)
    try:
        if not isinstance(document, Mapping):
            raise PolicyError(f"{source}: a policy document must be a mapping")
        top = {str(k): resolver.resolve(v) for k, v in document.items() if k != "Statement"}
        variables = document_version({**top, "Statement": document.get("Statement")}, source)
    except PolicyError as exc:
        errors.append(Finding(file, doc_line, "GATE000", "error", resource, str(exc)))
        return out, raws
    raw = document["Statement"]
    raw_list = raw if isinstance(raw, list) else [raw]
    for index, node in enumerate(raw_list):
        where = line(node, doc_line)
        resolved = resolver.resolve(node)
        if resolved is NO_VALUE:
            continue
        try:
            stmt = parse_statement(
                resolved,
                f"{source}/Statement/{index}",
                where,
                kind=kind,
                variables=variables,
                lines=_element_lines(node, resolver, where),
            )
        except PolicyError as exc:
            errors.append(Finding(file, where, "GATE000", "error", resource, str(exc)))
            continue
        out.append(stmt)
        raws.append(node)
    return out, raws


def _attached_roles(props: dict[str, Any]) -> list[str]:
    roles = props.get("Roles") or ([props["RoleName"]] if "RoleName" in props else [])
    names = []
    for r in roles if isinstance(roles, list) else []:
        if isinstance(r, dict) and "Ref" in r:
            names.append(str(r["Ref"]))
    return names


def _iam_role(template: Template, resolver: Resolver, logical_id: str) -> RolePolicies:
    rp = RolePolicies(template, logical_id, template.resource_line(logical_id))
    props = template.properties(logical_id)
    for index, pol in enumerate(props.get("Policies") or []):
        if not isinstance(pol, dict):
            continue
        name = str(resolver.resolve(pol.get("PolicyName", index)))
        rp.documents.append((name, resolver.resolve(pol.get("PolicyDocument"))))
        stmts, _ = statements_of(
            pol.get("PolicyDocument"), resolver, f"{logical_id}/Policies/{name}", rp.errors, logical_id,
            default_line=line(pol, rp.line),
        )  # fmt: skip
        rp.statements.extend(stmts)
    trust_line = key_line(props, "AssumeRolePolicyDocument", rp.line)
    trust, raws = statements_of(
        props.get("AssumeRolePolicyDocument"), resolver, f"{logical_id}/AssumeRolePolicyDocument",
        rp.errors, logical_id, kind="trust", default_line=trust_line,
    )  # fmt: skip
    rp.trust, rp.trust_raw = trust, raws
    rp.trust_document = resolver.resolve(props.get("AssumeRolePolicyDocument"))
    arns = props.get("ManagedPolicyArns") or []
    for node in arns if isinstance(arns, list) else []:
        rp.managed_arns.append(
            (str(resolver.resolve(node)), line(node, key_line(props, "ManagedPolicyArns")))
        )
    return rp


def _sam_role(template: Template, resolver: Resolver, logical_id: str) -> RolePolicies:
    """The role SAM generates for a function or state machine from its ``Policies``."""
    res_line = template.resource_line(logical_id)
    rp = RolePolicies(template, f"{logical_id}Role", res_line, generated_by=logical_id)
    props = template.properties(logical_id)
    file = str(template.path)
    partition = str(resolver.values.get("AWS::Partition", "aws"))
    if template.data["Resources"][logical_id].get("Type") == sam.SAM_FUNCTION:
        rp.managed_arns.append((sam.BASIC_EXECUTION.format(p=partition), res_line))
    policies_line = key_line(props, "Policies", res_line)
    for index, entry in enumerate(sam.policy_entries(props.get("Policies"))):
        at = line(entry, policies_line)
        source = f"{logical_id}/Policies/{index}"
        try:
            kind, value = sam.classify_entry(entry)
            if kind == "managed":
                rp.managed_arns.append((sam.managed_arn(str(resolver.resolve(value)), partition), at))
                continue
            if kind == "template":
                name, params = value
                source = f"{logical_id}/Policies/{name}"
                at = line(next(iter(entry)), at)
                value = sam.expand_template(name, params)
        except sam.SamPolicyError as exc:
            rp.errors.append(Finding(file, at, "GATE000", "error", rp.logical_id, f"{source}: {exc}"))
            continue
        stmts, _ = statements_of(value, resolver, source, rp.errors, rp.logical_id, default_line=at)
        rp.statements.extend(stmts)
    return rp


def collect_roles(template: Template, resolver: Resolver) -> dict[str, RolePolicies]:
    """Every role of the template (memoised on the resolver: rules families share one collection)."""
    memo = resolver.memo.get("roles")
    if isinstance(memo, dict):
        return memo
    roles: dict[str, RolePolicies] = {}
    for logical_id, _ in template.resources(ROLE):
        roles[logical_id] = _iam_role(template, resolver, logical_id)
    for logical_id, _ in template.resources(*sam.SAM_TYPES):
        if "Role" not in template.properties(logical_id):
            rp = _sam_role(template, resolver, logical_id)
            roles.setdefault(rp.logical_id, rp)
    # Policies declared as separate resources and attached with Roles: [!Ref Role]
    for logical_id, _ in template.resources(*POLICY_TYPES):
        props = template.properties(logical_id)
        for role in _attached_roles(props):
            if role in roles:
                stmts, _ = statements_of(
                    props.get("PolicyDocument"), resolver, logical_id, roles[role].errors, logical_id,
                    default_line=template.resource_line(logical_id),
                )  # fmt: skip
                roles[role].statements.extend(stmts)
    resolver.memo["roles"] = roles
    return roles


def function_role(template: Template, resolver: Resolver, logical_id: str) -> RolePolicies | None:
    """The role a function runs with: SAM's generated one, or the template role its ``Role`` names."""
    roles = collect_roles(template, resolver)
    role = template.properties(logical_id).get("Role")
    if role is None:
        return roles.get(f"{logical_id}Role")
    target: Any = None
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        att = role["Fn::GetAtt"]
        target = att[0] if isinstance(att, list) else str(att).split(".")[0]
    elif isinstance(role, dict) and "Ref" in role:
        target = role["Ref"]
    return roles.get(str(target)) if target is not None else None


def function_statements(template: Template, resolver: Resolver, logical_id: str) -> list[Statement]:
    """The identity statements of the role a function runs with (empty when it is not in the template)."""
    rp = function_role(template, resolver, logical_id)
    return list(rp.statements) if rp else []
