"""IAM wildcard patterns: ``*`` and ``?`` matching, plus pattern-vs-pattern coverage and overlap.

A pattern is a tuple of tokens: a one-character string (a literal) or one of the
``STAR``/``ONE`` sentinels. Literals produced by policy variables such as ``${*}``
stay literal, which is why patterns are tokens and not strings.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

STAR = object()  # any run of characters, possibly empty
ONE = object()  # exactly one character
Token = str | object
Pattern = tuple[Token, ...]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def parse(text: str) -> Pattern:
    """A pattern with ``*``/``?`` as wildcards and no policy variables."""
    return tuple(STAR if ch == "*" else ONE if ch == "?" else ch for ch in text)


def literal(text: str) -> Pattern:
    return tuple(text)


def substitute(text: str, context: dict[str, list[str]] | None) -> Pattern | None:
    """Parse a policy string, replacing ``${key}`` and ``${key, 'default'}`` from the request context.

    ``${*}``, ``${?}`` and ``${$}`` are literal characters. Returns None when a variable is
    missing and has no default: AWS then treats the element as not matching.
    """
    tokens: list[Token] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        tokens.extend(parse(text[pos : m.start()]))
        pos = m.end()
        inner = m.group(1).strip()
        if inner in _ESCAPES:
            tokens.append(_ESCAPES[inner])
            continue
        key, _, default = inner.partition(",")
        values = (context or {}).get(key.strip().lower())
        if values and len(values) == 1:
            tokens.extend(literal(values[0]))
        elif default.strip():
            tokens.extend(literal(default.strip().strip("'\"")))
        else:
            return None
    tokens.extend(parse(text[pos:]))
    return tuple(tokens)


def has_wildcard(pattern: Pattern) -> bool:
    return any(t is STAR or t is ONE for t in pattern)


def to_text(pattern: Pattern) -> str:
    return "".join("*" if t is STAR else "?" if t is ONE else str(t) for t in pattern)


@lru_cache(maxsize=4096)
def _regex(pattern: Pattern, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if t is STAR else "." if t is ONE else re.escape(str(t)) for t in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: Pattern, text: str, *, ignore_case: bool = False) -> bool:
    """Does the concrete string ``text`` match ``pattern``?"""
    return _regex(pattern, ignore_case).fullmatch(text) is not None


def _eq(a: Token, b: Token, ignore_case: bool) -> bool:
    if ignore_case and isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def covers(outer: Pattern, inner: Pattern, *, ignore_case: bool = False) -> bool:
    """Is every string matched by ``inner`` also matched by ``outer``?

    Only a ``*`` in ``outer`` can absorb a ``*`` in ``inner``; a ``?`` in ``inner`` needs
    ``?`` or ``*`` in ``outer``. Exact for the shapes IAM policies use.
    """

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(outer):
            return j == len(inner)
        o = outer[i]
        if o is STAR:
            return go(i + 1, j) or (j < len(inner) and go(i, j + 1))
        if j == len(inner):
            return False
        n = inner[j]
        if n is STAR:
            return False
        if o is ONE:
            return go(i + 1, j + 1)
        return n is not ONE and _eq(o, n, ignore_case) and go(i + 1, j + 1)

    return go(0, 0)


def overlaps(a: Pattern, b: Pattern, *, ignore_case: bool = False) -> bool:
    """Is there at least one string matched by both patterns?"""

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] is STAR and go(i + 1, j):
            return True
        if j < len(b) and b[j] is STAR and go(i, j + 1):
            return True
        if i == len(a) or j == len(b):
            return False
        x, y = a[i], b[j]
        if x is STAR:
            return go(i, j + 1) if y is not STAR else go(i, j + 1) or go(i + 1, j)
        if y is STAR:
            return go(i + 1, j)
        if x is ONE or y is ONE or _eq(x, y, ignore_case):
            return go(i + 1, j + 1)
        return False

    return go(0, 0)
