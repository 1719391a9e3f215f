"""The gate's check families: each rules module registers its checks here with the rule ids they emit.

A family is one function over one kind of input. The runner calls every family of a kind, in
the order of ``CHECK_MODULES`` and, within a module, in the order of registration:

=============  ======================================  =========================================
kind           called as                               when
=============  ======================================  =========================================
``role``       ``check(RolePolicies, GateSpec)``       for each IAM role declared in a template
``template``   ``check(Template, Resolver, GateSpec)`` for each decoded template
``templates``  ``check(paths, roles_seen, GateSpec)``  once, after every template
``workflow``   ``check(Path, workflow, GateSpec)``     for each decoded workflow
``workflows``  ``check(paths, GateSpec)``              once, with every workflow
``live``       ``check(GateSpec, roles, LiveReader)``  once, with ``--live`` (the deployed role)
=============  ======================================  =========================================

``emits`` names catalogue ids (``findings.RULES``) or an external tool's rules as ``tool/*``;
a test holds the catalogue and the families to each other, so no rule exists only as a string.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from harness.gate.findings import Finding

Kind = Literal["role", "template", "templates", "workflow", "workflows", "live"]
Check = TypeVar("Check", bound=Callable[..., Iterable[Finding]])

# The modules that define check families, in the order their findings are collected.
CHECK_MODULES = (
    "harness.gate.rules_iam",
    "harness.gate.rules_oidc",
    "harness.gate.rules_posture",
    "harness.gate.lint",
    "harness.gate.rules_workflow",
    "harness.gate.live",
)


@dataclass(frozen=True)
class CheckFamily:
    name: str
    kind: Kind
    emits: tuple[str, ...]
    check: Callable[..., Iterable[Finding]]

    def covers(self, rule: str) -> bool:
        """Whether ``rule`` is one this family declares (``tool/*`` covers every ``tool/...``)."""
        return any(rule == e or (e.endswith("/*") and rule.startswith(e[:-1])) for e in self.emits)


_REGISTERED: dict[tuple[str, str], CheckFamily] = {}


def check_family(name: str, kind: Kind, *, emits: Iterable[str]) -> Callable[[Check], Check]:
    """Register the decorated function as the check family ``name`` over inputs of ``kind``."""

    def register(check: Check) -> Check:
        if check.__module__ not in CHECK_MODULES:
            raise ValueError(f"check family {name!r}: add {check.__module__} to CHECK_MODULES")
        _REGISTERED[check.__module__, name] = CheckFamily(name, kind, tuple(emits), check)
        return check

    return register


def families(kind: Kind | None = None) -> list[CheckFamily]:
    """The registered families (of ``kind``), in collection order."""
    for module in CHECK_MODULES:
        importlib.import_module(module)
    order: dict[str, int] = {module: index for index, module in enumerate(CHECK_MODULES)}
    keys = sorted(_REGISTERED, key=lambda key: order[key[0]])
    return [_REGISTERED[key] for key in keys if kind is None or _REGISTERED[key].kind == kind]
