"""IAM policy evaluation for one principal's identity policies (and trust policies).

Why this is ours: no maintained Python library evaluates allow/deny correctly (see
docs/gate.md — moto fails open on unknown operators, principalmapper matches resources
case-insensitively). Action knowledge (access levels, wildcard expansion) comes from
policy_sentry in :mod:`harness.gate.actions`; this module only decides.

Decision logic (AWS "policy evaluation logic", single account, identity policies):
an explicit ``Deny`` in any matching statement wins; otherwise an ``Allow`` in any
matching statement allows; otherwise the request is implicitly denied.

Besides concrete requests, :func:`evaluate` accepts a resource *pattern* (``rule/stack-*``)
and a mode: ``"all"`` asks whether every matching resource is allowed (an Allow must
cover the pattern, a Deny that merely overlaps it counts), ``"any"`` asks whether some
matching resource may be allowed (an Allow that overlaps counts, a Deny must cover).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from harness.gate import conditions, patterns
from harness.gate.conditions import UnsupportedCondition

Mode = Literal["exact", "all", "any"]


class Decision(StrEnum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicit-deny"
    EXPLICIT_DENY = "explicit-deny"


class PolicyError(ValueError):
    """A policy the engine refuses to evaluate (malformed element, unknown operator)."""


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    principals: dict[str, tuple[str, ...]] | None = None
    not_principals: dict[str, tuple[str, ...]] | None = None
    condition: dict[str, Any] = field(default_factory=dict)
    sid: str = ""
    source: str = ""  # where the statement came from (policy name)
    line: int = 0


@dataclass(frozen=True)
class Request:
    action: str
    resource: str = "*"
    context: dict[str, list[str]] = field(default_factory=dict)
    principal: tuple[str, str] | None = None  # (type, value), e.g. ("Federated", arn)

    @staticmethod
    def make(
        action: str, resource: str = "*", context: dict[str, Any] | None = None, principal: Any = None
    ) -> Request:
        ctx: dict[str, list[str]] = {}
        for key, value in (context or {}).items():
            values = value if isinstance(value, list) else [value]
            ctx[key.lower()] = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]
        return Request(action, resource, ctx, principal)


@dataclass(frozen=True)
class Result:
    decision: Decision
    allowed_by: tuple[Statement, ...] = ()
    denied_by: tuple[Statement, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOWED


def _strings(value: Any, element: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) for v in items):
        raise PolicyError(f"{element} must be a string or a list of strings, got {value!r}")
    return tuple(items)


def _principal_map(value: Any, element: str) -> dict[str, tuple[str, ...]]:
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, dict):
        raise PolicyError(f"{element} must be '*' or a mapping, got {value!r}")
    return {str(k): _strings(v, f"{element}.{k}") for k, v in value.items()}


def parse_statement(raw: Any, source: str = "", line: int = 0) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: a statement must be a mapping")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{source}: Effect must be Allow or Deny, got {effect!r}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{source}: a statement needs exactly one of Action / NotAction")
    if "Resource" in raw and "NotResource" in raw:
        raise PolicyError(f"{source}: a statement cannot have both Resource and NotResource")
    cond = raw.get("Condition") or {}
    try:
        conditions.check_block(cond)
    except UnsupportedCondition as exc:
        raise PolicyError(f"{source}: {exc}") from None
    return Statement(
        effect=effect,
        actions=_strings(raw["Action"], "Action") if "Action" in raw else (),
        not_actions=_strings(raw["NotAction"], "NotAction") if "NotAction" in raw else None,
        resources=_strings(raw.get("Resource", "*"), "Resource") if "NotResource" not in raw else (),
        not_resources=_strings(raw["NotResource"], "NotResource") if "NotResource" in raw else None,
        principals=_principal_map(raw["Principal"], "Principal") if "Principal" in raw else None,
        not_principals=_principal_map(raw["NotPrincipal"], "NotPrincipal") if "NotPrincipal" in raw else None,
        condition=dict(cond),
        sid=str(raw.get("Sid", "")),
        source=source,
        line=line,
    )


def parse_policy(document: Any, source: str = "") -> list[Statement]:
    """The statements of a policy document (``Statement`` may be one mapping or a list)."""
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError(f"{source}: a policy document needs a Statement element")
    raw = document["Statement"]
    return [parse_statement(s, source) for s in (raw if isinstance(raw, list) else [raw])]


# -- matching -----------------------------------------------------------------------------------
def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively; ``*`` and ``?`` are wildcards."""
    return patterns.matches(patterns.parse(pattern), action, ignore_case=True)


def _resource_hit(policy_value: str, request: Request, mode: Mode, *, for_deny: bool) -> bool:
    pat = patterns.substitute(policy_value, request.context)
    if pat is None:
        return False  # unresolvable policy variable: the element does not match
    if mode == "exact" or not patterns.has_wildcard(patterns.parse(request.resource)):
        return patterns.matches(pat, request.resource)
    probe = patterns.parse(request.resource)
    strict = (mode == "all") != for_deny  # Allow in "all" and Deny in "any" must cover
    return patterns.covers(pat, probe) if strict else patterns.overlaps(pat, probe)


def _resource_matches(stmt: Statement, request: Request, mode: Mode) -> bool:
    deny = stmt.effect == "Deny"
    if stmt.not_resources is not None:
        # NotResource: the statement applies to what lies outside the listed resources.
        outside_mode: Mode = "exact" if mode == "exact" else ("any" if mode == "all" else "all")
        return not any(_resource_hit(v, request, outside_mode, for_deny=deny) for v in stmt.not_resources)
    return any(_resource_hit(v, request, mode, for_deny=deny) for v in stmt.resources)


def _principal_matches(stmt: Statement, request: Request) -> bool:
    if request.principal is None:
        return True
    kind, value = request.principal

    def hit(mapping: dict[str, tuple[str, ...]]) -> bool:
        if "*" in mapping:
            return True
        return any(patterns.matches(patterns.parse(v), value) for v in mapping.get(kind, ()))

    if stmt.principals is not None and not hit(stmt.principals):
        return False
    return not (stmt.not_principals is not None and hit(stmt.not_principals))


def statement_applies(stmt: Statement, request: Request, mode: Mode = "exact") -> bool:
    if stmt.not_actions is not None:
        if any(action_matches(a, request.action) for a in stmt.not_actions):
            return False
    elif not any(action_matches(a, request.action) for a in stmt.actions):
        return False
    if not _resource_matches(stmt, request, mode) or not _principal_matches(stmt, request):
        return False
    try:
        return conditions.evaluate(stmt.condition, request.context)
    except UnsupportedCondition as exc:
        raise PolicyError(f"{stmt.source} (line {stmt.line}): {exc}") from None


def evaluate(statements: Iterable[Statement], request: Request, mode: Mode = "exact") -> Result:
    """Decide one request: explicit deny wins over allow; nothing matching is an implicit deny."""
    allows: list[Statement] = []
    denies: list[Statement] = []
    for stmt in statements:
        if statement_applies(stmt, request, mode):
            (denies if stmt.effect == "Deny" else allows).append(stmt)
    if denies:
        return Result(Decision.EXPLICIT_DENY, tuple(allows), tuple(denies))
    if allows:
        return Result(Decision.ALLOWED, tuple(allows))
    return Result(Decision.IMPLICIT_DENY)


def is_allowed(statements: Sequence[Statement], action: str, resource: str = "*", **context: Any) -> bool:
    return evaluate(statements, Request.make(action, resource, context)).allowed
