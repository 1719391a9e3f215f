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
    variables: bool = True  # policy Version 2012-10-17: ${...} are policy variables
    lines: dict[str, int] = field(default_factory=dict)  # element or "Element:value" -> line

    def line_of(self, element: str, value: str | None = None) -> int:
        """Line of one entry (``Action``, ``events:*``), else of the element, else of the statement."""
        if value is not None and f"{element}:{value}" in self.lines:
            return self.lines[f"{element}:{value}"]
        return self.lines.get(element) or self.line


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
            for v in values:
                if v is None or not isinstance(v, str | int | float):
                    kind = "null" if v is None else type(v).__name__
                    raise PolicyError(
                        f"request context {key}: a value is a {kind}, not a string/number/boolean"
                    )
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


Kind = Literal["identity", "trust"]
VERSIONS = ("2012-10-17", "2008-10-17")
_KEYS = {
    "identity": frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}),
    "trust": frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Condition"}),
}
_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})
_PLACEHOLDER = "{{unresolved:"


def _strings(value: Any, element: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise PolicyError(f"{element} must be a non-empty string or a list of them")
    return tuple(items)


def _actions(value: Any, element: str) -> tuple[str, ...]:
    out = _strings(value, element)
    for a in out:
        service, colon, name = a.partition(":")
        if a != "*" and not (colon and service and name):
            raise PolicyError(f"{element}: an entry is not service:action or * (str, {len(a)} chars)")
    return out


def _resources(value: Any, element: str) -> tuple[str, ...]:
    out = _strings(value, element)
    for r in out:
        if r != "*" and not r.startswith("arn:") and not r.startswith(_PLACEHOLDER):
            raise PolicyError(f"{element}: an entry is neither * nor an ARN (str, {len(r)} chars)")
    return out


def _principal_map(value: Any, element: str) -> dict[str, tuple[str, ...]]:
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, dict) or not value:
        raise PolicyError(f"{element} must be '*' or a non-empty mapping")
    unknown = sorted(set(map(str, value)) - {"AWS", "Federated", "Service", "CanonicalUser"})
    if unknown:
        raise PolicyError(f"{element}: unknown principal type {unknown[0]!r}")
    return {str(k): _strings(v, f"{element}.{k}") for k, v in value.items()}


def parse_statement(
    raw: Any,
    source: str = "",
    line: int = 0,
    *,
    kind: Kind = "identity",
    variables: bool = True,
    lines: dict[str, int] | None = None,
) -> Statement:
    """One statement, refused (:class:`PolicyError`) unless every element is understood.

    Identity statements need ``Resource`` or ``NotResource`` and may not name a principal;
    trust statements need ``Principal`` and may not name a resource. Unknown elements,
    empty or mistyped values and unevaluable conditions are refused: never guessed.
    """
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: a statement must be a mapping")
    unknown = sorted(set(map(str, raw)) - _KEYS[kind])
    if unknown:
        raise PolicyError(f"{source}: element {unknown[0]!r} is not valid in an {kind} policy statement")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{source}: Effect must be Allow or Deny")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{source}: a statement needs exactly one of Action / NotAction")
    if kind == "identity" and ("Resource" in raw) == ("NotResource" in raw):
        raise PolicyError(f"{source}: a statement needs exactly one of Resource / NotResource")
    if kind == "trust" and ("Principal" in raw) == ("NotPrincipal" in raw):
        raise PolicyError(f"{source}: a trust statement needs exactly one of Principal / NotPrincipal")
    sid = raw.get("Sid", "")
    if not isinstance(sid, str):
        raise PolicyError(f"{source}: Sid must be a string")
    cond = raw.get("Condition", {})
    try:
        conditions.check_block(cond)
    except UnsupportedCondition as exc:
        raise PolicyError(f"{source}: {exc}") from None
    return Statement(
        effect=effect,
        actions=_actions(raw["Action"], f"{source}: Action") if "Action" in raw else (),
        not_actions=_actions(raw["NotAction"], f"{source}: NotAction") if "NotAction" in raw else None,
        resources=_resources(raw["Resource"], f"{source}: Resource") if "Resource" in raw else (),
        not_resources=_resources(raw["NotResource"], f"{source}: NotResource")
        if "NotResource" in raw
        else None,
        principals=_principal_map(raw["Principal"], f"{source}: Principal") if "Principal" in raw else None,
        not_principals=_principal_map(raw["NotPrincipal"], f"{source}: NotPrincipal")
        if "NotPrincipal" in raw
        else None,
        condition=dict(cond),
        sid=sid,
        source=source,
        line=line,
        variables=variables,
        lines=dict(lines or {}),
    )


def document_version(document: Any, source: str = "") -> bool:
    """Check a policy document's top level; True when ``${...}`` are policy variables (2012-10-17)."""
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError(f"{source}: a policy document needs a Statement element")
    unknown = sorted(set(map(str, document)) - _DOCUMENT_KEYS)
    if unknown:
        raise PolicyError(f"{source}: element {unknown[0]!r} is not valid in a policy document")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"{source}: Version must be 2012-10-17 or 2008-10-17")
    return bool(version == "2012-10-17")


def parse_policy(document: Any, source: str = "", *, kind: Kind = "identity") -> list[Statement]:
    """The statements of a policy document (``Statement`` may be one mapping or a list)."""
    variables = document_version(document, source)
    raw = document["Statement"]
    items = raw if isinstance(raw, list) else [raw]
    return [
        parse_statement(s, f"{source}/Statement/{i}", kind=kind, variables=variables)
        for i, s in enumerate(items)
    ]


# -- matching -----------------------------------------------------------------------------------
def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively; ``*`` and ``?`` are wildcards."""
    return patterns.matches(patterns.parse(pattern), action, ignore_case=True)


def _resource_hit(
    policy_value: str, request: Request, mode: Mode, *, for_deny: bool, variables: bool = True
) -> bool:
    pat = patterns.substitute(policy_value, request.context) if variables else patterns.parse(policy_value)
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
        return not any(
            _resource_hit(v, request, outside_mode, for_deny=deny, variables=stmt.variables)
            for v in stmt.not_resources
        )
    return any(
        _resource_hit(v, request, mode, for_deny=deny, variables=stmt.variables) for v in stmt.resources
    )


def _principal_matches(stmt: Statement, request: Request) -> bool:
    if request.principal is None:
        return True
    kind, value = request.principal

    def hit(mapping: dict[str, tuple[str, ...]]) -> bool:
        if "*" in mapping:
            return True
        return any(v in ("*", value) for v in mapping.get(kind, ()))  # principals take no wildcards but "*"

    if stmt.principals is not None and not hit(stmt.principals):
        return False
    return not (stmt.not_principals is not None and hit(stmt.not_principals))


def statement_applies(stmt: Statement, request: Request, mode: Mode = "exact") -> bool:
    if stmt.not_actions is not None:
        if any(action_matches(a, request.action) for a in stmt.not_actions):
            return False
    elif not any(action_matches(a, request.action) for a in stmt.actions):
        return False
    if stmt.principals is None and stmt.not_principals is None and not _resource_matches(stmt, request, mode):
        return False
    if not _principal_matches(stmt, request):
        return False
    try:
        return conditions.evaluate(stmt.condition, request.context, stmt.variables)
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
