"""OIDC trust: GitHub's token issuer, AssumeRoleWithWebIdentity only, pinned ``aud``, exact ``sub``.

The audience and subject checks are decided by the IAM engine: the trust policy is
evaluated for requests carrying the allowed claims (must be allowed) and for probe
claims from other branches, tags, pull requests, repositories and environments
(must be denied), so ``StringLike`` wildcards and ``ForAnyValue`` tricks are judged by
what they admit, not by how they are spelled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.gate import patterns
from harness.gate.checks import check_family
from harness.gate.findings import Finding
from harness.gate.iam import Request, Statement, evaluate
from harness.gate.policies import RolePolicies
from harness.gate.spec import GateSpec, OidcSpec
from harness.gate.templates import key_line

ISSUER = "token.actions.githubusercontent.com"
AUD_KEY, SUB_KEY = f"{ISSUER}:aud", f"{ISSUER}:sub"
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
PROVIDER = patterns.parse(f"arn:*:iam::*:oidc-provider/{ISSUER}")
PROBE = "drill-probe"
UNRESOLVED = "{{unresolved:"


def _claim_line(raw: Any, claim: str, default: int) -> int:
    cond = raw.get("Condition") if isinstance(raw, dict) else None
    for block in (cond or {}).values():
        if isinstance(block, dict):
            for key in block:
                if str(key).lower() == claim:
                    return key_line(block, str(key), default)
    return default


def _unresolved_hint(rp: RolePolicies, value: str) -> str:
    """Name what is unresolved: a template parameter without a default, or another expression."""
    start = value.find(UNRESOLVED) + len(UNRESOLVED)
    what = value[start : value.find("}}", start)]
    name = what.removeprefix("Ref:")
    if name in (rp.template.data.get("Parameters") or {}):
        return (
            f"set parameter {name} in the spec (it has no default); the trust conditions were still checked"
        )
    return f"{what} has no known value; the trust conditions were still checked"


def is_oidc_role(rp: RolePolicies) -> bool:
    return any(s.principals and "Federated" in s.principals for s in rp.trust)


def forbidden_subjects(spec: OidcSpec) -> dict[str, str]:
    owner, repo = spec.repository.split("/", 1)
    branch = spec.branches[0] if spec.branches else "main"
    base = f"repo:{owner}/{repo}"
    return {
        "another branch": f"{base}:ref:refs/heads/{PROBE}",
        "a branch sharing the prefix": f"{base}:ref:refs/heads/{branch}-{PROBE}",
        "a tag": f"{base}:ref:refs/tags/{PROBE}",
        "a pull request": f"{base}:pull_request",
        "an unlisted environment": f"{base}:environment:{PROBE}",
        "another repository": f"repo:{owner}/{PROBE}:ref:refs/heads/{branch}",
        "a repository sharing the prefix": f"repo:{owner}/{repo}-{PROBE}:ref:refs/heads/{branch}",
        "another owner": f"repo:{PROBE}/{repo}:ref:refs/heads/{branch}",
    }


def allowed_subjects(spec: OidcSpec) -> list[str]:
    base = f"repo:{spec.repository}"
    return [f"{base}:ref:refs/heads/{b}" for b in spec.branches] + [
        f"{base}:environment:{e}" for e in spec.environments
    ]


def _request(provider: str, aud: str | None, sub: str | None) -> Request:
    context = {k: v for k, v in ((AUD_KEY, aud), (SUB_KEY, sub)) if v is not None}
    return Request.make(WEB_IDENTITY, "*", context, principal=("Federated", provider))


def _sub_values(stmt: Statement) -> list[str]:
    return [
        str(v)
        for block in stmt.condition.values()
        for key, raw in block.items()
        if key.lower() == SUB_KEY
        for v in (raw if isinstance(raw, list) else [raw])
    ]


def _first_sub(stmt: Statement) -> str:
    """A subject the statement is meant to admit, for probing the audience without a spec."""
    exact = [v for v in _sub_values(stmt) if "*" not in v and "?" not in v]
    return exact[0] if exact else f"repo:{PROBE}/{PROBE}:ref:refs/heads/main"


def _static_sub(stmt: Statement) -> list[str]:
    """Without a spec: the sub values themselves must be exact (no wildcard, no pull_request)."""
    values = _sub_values(stmt)
    if not values:
        return ["no sub condition: any repository using GitHub OIDC can assume the role"]
    return [f"sub {v!r} is not exact" for v in values if "*" in v or "?" in v or "pull_request" in v]


def check_trust(rp: RolePolicies, spec: OidcSpec | None) -> Iterator[Finding]:
    path = str(rp.template.path)
    federated = [(s, raw) for s, raw in zip(rp.trust, rp.trust_raw, strict=True) if s.effect == "Allow"]
    federated = [(s, raw) for s, raw in federated if s.principals and "Federated" in s.principals]
    if not federated:
        if spec is not None:
            msg = "the spec expects GitHub OIDC trust but no statement trusts a federated principal"
            yield Finding(path, rp.line, "OIDC001", "error", rp.logical_id, msg)
        return
    for stmt, raw in federated:
        providers = (stmt.principals or {}).get("Federated", ())
        at = stmt.line_of("Principal", providers[0] if providers else None)
        unresolved = [p for p in providers if UNRESOLVED in p]
        bad = [p for p in providers if UNRESOLVED not in p and not patterns.matches(PROVIDER, p)]
        if unresolved:
            msg = f"cannot resolve the federated principal: {_unresolved_hint(rp, unresolved[0])}"
            yield Finding(path, at, "OIDC005", "error", rp.logical_id, msg, stmt.line)
        if bad:
            msg = f"federated principal {bad[0]!r} is not the GitHub token issuer ({ISSUER})"
            yield Finding(path, at, "OIDC001", "error", rp.logical_id, msg, stmt.line)
            continue
        extra = [a for a in stmt.actions if a.lower() != WEB_IDENTITY.lower()]
        if extra or stmt.not_actions is not None:
            msg = f"trust allows {', '.join(extra) or 'NotAction'}; only {WEB_IDENTITY} is expected"
            where = stmt.line_of("NotAction" if stmt.not_actions is not None else "Action")
            yield Finding(path, where, "OIDC002", "error", rp.logical_id, msg, stmt.line)
        provider = providers[0]
        good_sub = allowed_subjects(spec)[0] if spec else _first_sub(stmt)
        aud_line = _claim_line(raw, AUD_KEY, stmt.line)
        for label, aud in (("another audience", PROBE), ("no audience", None)):
            if evaluate([stmt], _request(provider, aud, good_sub)).allowed:
                msg = f"aud is not pinned to sts.amazonaws.com: a token with {label} is accepted"
                yield Finding(path, aud_line, "OIDC003", "error", rp.logical_id, msg)
                break
        sub_line = _claim_line(raw, SUB_KEY, stmt.line)
        problems: list[str] = []
        if spec is None:
            problems = _static_sub(stmt)
        else:
            for sub in allowed_subjects(spec):
                if not evaluate([stmt], _request(provider, "sts.amazonaws.com", sub)).allowed:
                    problems.append(f"does not admit the allowed subject {sub!r}")
            for label, sub in forbidden_subjects(spec).items():
                if evaluate([stmt], _request(provider, "sts.amazonaws.com", sub)).allowed:
                    problems.append(f"admits {label} ({sub})")
        if problems:
            yield Finding(path, sub_line, "OIDC004", "error", rp.logical_id, "; ".join(problems))


@check_family("role-trust", "role", emits=("OIDC001", "OIDC002", "OIDC003", "OIDC004", "OIDC005"))
def check_oidc_role(rp: RolePolicies, spec: GateSpec) -> Iterator[Finding]:
    """The trust checks, for a role that trusts a federated principal or whose spec expects OIDC."""
    role_spec = spec.roles.get(rp.logical_id)
    if is_oidc_role(rp) or (role_spec and role_spec.oidc):
        yield from check_trust(rp, role_spec.oidc if role_spec else None)
