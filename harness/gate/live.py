"""Live drift: the deployed role, read through IAM, checked like the template and diffed against it.

The common real incident is a right repository and a stale stack. ``drill gate --live``
(or the lane's ``live`` option) reads the role named by the spec's ``live.role_name``
with read-only IAM calls only — ``iam:GetRole``, ``iam:ListRolePolicies``,
``iam:GetRolePolicy``, ``iam:ListAttachedRolePolicies``, ``iam:GetPolicy``,
``iam:GetPolicyVersion`` — through the standard boto3 credential chain, runs the same
``must_allow``/``must_deny``/OIDC checks on what is deployed, and diffs it against the
template (both ways) with the IAM engine, so a reordered but equivalent policy is no drift.
Findings point at the template's statement (or role) so they land in SARIF with file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError, ProviderError
from harness.gate import actions
from harness.gate.checks import check_family
from harness.gate.findings import Finding
from harness.gate.iam import Decision, PolicyError, Request, Statement, evaluate, parse_policy
from harness.gate.policies import RolePolicies
from harness.gate.spec import GateSpec

if TYPE_CHECKING:
    from harness.aws.endpoint import AwsEndpoint

READ_ONLY_CALLS = (
    "iam:GetRole",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
)
_MAX_EXPANSION = 64  # concrete actions compared per wildcard entry


@dataclass
class LiveRole:
    name: str
    statements: list[Statement] = field(default_factory=list)
    trust: list[Statement] = field(default_factory=list)
    managed_arns: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # policies the engine refused (GATE000)


def _document(value: Any) -> Any:
    """Policy documents arrive decoded from boto3; a string (URL-decoded JSON) is parsed here."""
    return json.loads(value) if isinstance(value, str) else value


class LiveReader:
    """Reads a deployed role with the read-only calls above (never writes)."""

    def __init__(self, endpoint: AwsEndpoint) -> None:
        self.endpoint = endpoint
        self._client: Any = None

    def describe(self) -> dict[str, Any]:
        return {**self.endpoint.describe(), "calls": list(READ_ONLY_CALLS)}

    def _iam(self) -> Any:
        if self._client is None:
            self._client = self.endpoint.client("iam")
        return self._client

    def read(self, role_name: str, line: int) -> LiveRole | None:
        """The deployed role, or None when it does not exist."""
        from botocore.exceptions import BotoCoreError, ClientError

        iam = self._iam()
        role = LiveRole(role_name)
        try:
            got = iam.get_role(RoleName=role_name)["Role"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise self._denied(exc) from None
        except BotoCoreError as exc:
            raise ProviderError(f"live drift: cannot reach IAM ({type(exc).__name__})") from None
        try:
            self._parse(
                role, f"live:{role_name}/trust", got.get("AssumeRolePolicyDocument"), line, trust=True
            )
            names = [n for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name)
                     for n in page["PolicyNames"]]  # fmt: skip
            for name in names:
                doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
                self._parse(role, f"live:{role_name}/{name}", doc, line)
            attached = [p["PolicyArn"] for page in iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=role_name) for p in page["AttachedPolicies"]]  # fmt: skip
            for arn in attached:
                role.managed_arns.append(arn)
                if ":iam::aws:policy/" in arn:
                    continue  # AWS managed: compared by ARN, its contents are AWS's
                version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                doc = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
                self._parse(role, f"live:{arn.rsplit('/', 1)[-1]}", doc, line)
        except ClientError as exc:
            raise self._denied(exc) from None
        return role

    @staticmethod
    def _parse(role: LiveRole, source: str, doc: Any, line: int, *, trust: bool = False) -> None:
        try:
            stmts = parse_policy(_document(doc), source, kind="trust" if trust else "identity")
        except PolicyError as exc:
            role.errors.append(str(exc))
            return
        stmts = [replace(s, line=line) for s in stmts]
        (role.trust if trust else role.statements).extend(stmts)

    @staticmethod
    def _denied(exc: Any) -> ProviderError:
        code = exc.response.get("Error", {}).get("Code", "error")
        return ProviderError(
            f"live drift: IAM answered {code}; the check needs read-only access: {', '.join(READ_ONLY_CALLS)}"
        )


# -- the diff ---------------------------------------------------------------------------------------
def _concrete(entries: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for entry in entries:
        expanded = actions.expand(entry)
        out.extend(expanded[:_MAX_EXPANSION] if expanded else [entry])
    return out


def _missing(stmt: Statement, other: list[Statement]) -> list[str]:
    """The (action on resource) pairs of ``stmt`` that ``other`` does not decide the same way."""
    if stmt.not_actions is not None or stmt.not_resources is not None or stmt.condition:
        same = any(_canonical(stmt) == _canonical(o) for o in other)
        return [] if same else [f"{stmt.effect} statement {stmt.sid or stmt.source} as written"]
    want = Decision.ALLOWED if stmt.effect == "Allow" else Decision.EXPLICIT_DENY
    gaps = []
    for action in _concrete(stmt.actions):
        for resource in stmt.resources:
            got = evaluate(other, Request.make(action, resource), "all").decision
            if got is not want:
                gaps.append(f"{action} on {resource}")
    return gaps


def _canonical(stmt: Statement) -> str:
    return json.dumps(
        [stmt.effect, sorted(a.lower() for a in stmt.actions), sorted(stmt.not_actions or []),
         sorted(stmt.resources), sorted(stmt.not_resources or []), stmt.condition,
         {k: sorted(v) for k, v in (stmt.principals or {}).items()}],
        sort_keys=True, default=str,
    )  # fmt: skip


def _live_name(spec: GateSpec) -> tuple[str, str]:
    live = spec.live
    if live is None:
        raise ConfigError(f"{spec.path or 'policy spec'}: --live needs a 'live: {{role_name: ...}}' section")
    return live.role, live.role_name


def drift(rp: RolePolicies, live: LiveRole) -> Iterator[Finding]:
    """Template against deployed, both ways: statements, managed policies, trust."""
    file = str(rp.template.path)
    who = f"{rp.logical_id} (deployed {live.name})"
    for stmt in rp.statements:
        gaps = _missing(stmt, live.statements)
        if gaps:
            verb = "grants" if stmt.effect == "Allow" else "denies"
            more = " …" if len(gaps) > 6 else ""
            msg = (f"the template {verb} {'; '.join(gaps[:6])}{more}, the deployed role does not: "
                   "the role's stack was not updated")  # fmt: skip
            yield Finding(file, stmt.line_of("Action"), "LIVE002", "error", who, msg, stmt.line)
    for stmt in live.statements:
        gaps = _missing(stmt, rp.statements)
        if gaps:
            verb = "grants" if stmt.effect == "Allow" else "denies"
            msg = (f"the deployed role {verb} {'; '.join(gaps[:6])} ({stmt.source}), the template does not: "
                   "it was changed outside the stack")  # fmt: skip
            yield Finding(file, rp.line, "LIVE003", "error", who, msg)
    template_arns = {arn for arn, _ in rp.managed_arns}
    for arn, line in rp.managed_arns:
        if arn not in live.managed_arns:
            msg = f"the template attaches {arn}, the deployed role does not: the role's stack was not updated"
            yield Finding(file, line, "LIVE002", "error", who, msg)
    for arn in live.managed_arns:
        if arn not in template_arns:
            msg = f"the deployed role has {arn} attached, the template does not: changed outside the stack"
            yield Finding(file, rp.line, "LIVE003", "error", who, msg)
    if sorted(map(_canonical, rp.trust)) != sorted(map(_canonical, live.trust)):
        msg = "the deployed trust policy differs from the template's: the role's stack was not updated"
        line = rp.trust[0].line if rp.trust else rp.line
        yield Finding(file, line, "LIVE004", "error", who, msg)


@check_family("live-drift", "live", emits=("LIVE001", "LIVE002", "LIVE003", "LIVE004"))
def check_live(spec: GateSpec, roles: dict[str, RolePolicies], reader: LiveReader) -> list[Finding]:
    """Read the deployed role, run the role families on it, and diff it against the template."""
    from harness.gate.checks import families

    logical_id, role_name = _live_name(spec)
    rp = roles.get(logical_id)
    if rp is None:
        where = spec.path or "policy spec"
        raise ConfigError(f"{where}: live.role {logical_id} is not a role of the checked templates")
    live = reader.read(role_name, rp.line)
    file = str(rp.template.path)
    if live is None:
        msg = f"the deployed role {role_name} does not exist (NoSuchEntity): is the stack deployed?"
        return [Finding(file, rp.line, "LIVE001", "error", logical_id, msg)]
    findings = [Finding(file, rp.line, "GATE000", "error", logical_id, e) for e in live.errors]
    by_sid = {s.sid: s for s in rp.statements if s.sid}
    placed = [  # a deployed statement with a template Sid is reported on that statement's lines
        replace(s, line=by_sid[s.sid].line, lines=by_sid[s.sid].lines) if s.sid in by_sid else s
        for s in live.statements
    ]
    deployed = replace(rp, statements=placed, trust=live.trust, trust_raw=[None] * len(live.trust),
                       managed_arns=[(a, rp.line) for a in live.managed_arns], errors=[])  # fmt: skip
    for family in families("role"):
        for f in family.check(deployed, spec):
            if f.rule in ("IAM001", "IAM002") or f.rule.startswith("OIDC"):
                findings.append(replace(f, resource=f"{logical_id} (deployed {role_name})",
                                        message="deployed role: " + f.message))  # fmt: skip
    findings += drift(rp, live)
    return findings


def provision(endpoint: AwsEndpoint, role_name: str, rp: RolePolicies) -> None:
    """Create ``role_name`` from the template's role (embedded endpoints only: tests and demos)."""
    if endpoint.provider != "embedded":
        raise ConfigError("live.provision creates a role: only on the embedded endpoint, never on AWS")
    import urllib.request

    # moto keeps its backends per process, across servers: start from an empty account
    reset = urllib.request.Request(f"{endpoint.endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(reset, timeout=10):  # noqa: S310 - the loopback embedded endpoint
        pass
    iam = endpoint.client("iam")
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(rp.trust_document))
    for name, document in rp.documents:
        iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(document))
