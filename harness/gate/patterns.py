"""IAM wildcard patterns in linear time: ``*``/``?`` matching, pattern coverage and overlap.

A pattern is a tuple of tokens: a one-character string (a literal) or one of the
``STAR``/``ONE`` sentinels. Literals produced by policy variables such as ``${*}``
stay literal, which is why patterns are tokens and not strings.

Nothing here builds a regular expression from a wildcard (the backtracking kind took
seconds on ``*/*/*/*.json``). :func:`matches` splits the pattern at its stars, anchors the
first and last pieces and places each middle piece at its leftmost occurrence (greedy
placement is exact for globs); a piece without ``?`` is found with ``str.find``, one with
``?`` by a bit-parallel Shift-And scan, so every text character is looked at a bounded
number of times. :func:`covers` and :func:`overlaps` are dynamic programmes over the two
patterns computed row by row with integer bit sets: iterative (no recursion limit) and
``O(len(a) * len(b) / 64)`` word operations.
"""

from __future__ import annotations

from functools import lru_cache

STAR = object()  # any run of characters, possibly empty
ONE = object()  # exactly one character
Token = str | object
Pattern = tuple[Token, ...]

_ESCAPES = {"*": "*", "?": "?", "$": "$"}


def parse(text: str) -> Pattern:
    """A pattern with ``*``/``?`` as wildcards and no policy variables."""
    return tuple(STAR if ch == "*" else ONE if ch == "?" else ch for ch in text)


def literal(text: str) -> Pattern:
    return tuple(text)


def substitute(text: str, context: dict[str, list[str]] | None) -> Pattern | None:
    """Parse a policy string, replacing ``${key}`` and ``${key, 'default'}`` from the request context.

    ``${*}``, ``${?}`` and ``${$}`` are literal characters. Returns None when a variable is
    missing (or multivalued) and has no default: AWS then treats the element as not matching.
    Scans with ``str.find`` only, so a text full of unclosed ``${`` stays linear.
    """
    tokens: list[Token] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        end = text.find("}", start + 2) if start >= 0 else -1
        if start < 0 or end < 0:
            break
        tokens.extend(parse(text[pos:start]))
        pos = end + 1
        inner = text[start + 2 : end].strip()
        if inner in _ESCAPES:
            tokens.append(_ESCAPES[inner])
            continue
        key, comma, default = inner.partition(",")
        key = key.strip().lower()
        values = (context or {}).get(key) if key else None  # ${} names no key
        default = default.strip()
        if values is not None and len(values) == 1:
            tokens.extend(literal(values[0]))
        elif comma and len(default) >= 2 and default[0] == default[-1] == "'":
            tokens.extend(literal(default[1:-1]))
        else:
            return None
    tokens.extend(parse(text[pos:]))
    return tuple(tokens)


def has_wildcard(pattern: Pattern) -> bool:
    return any(t is STAR or t is ONE for t in pattern)


def to_text(pattern: Pattern) -> str:
    return "".join("*" if t is STAR else "?" if t is ONE else str(t) for t in pattern)


def fold(text: str) -> str:
    """Lower-case without changing the length (``str.lower`` may grow a few characters)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


# -- matching a concrete string -----------------------------------------------------------------
# A piece is the run of tokens between two stars: a plain string, or (length, masks) for
# a piece containing ``?`` (Shift-And: masks[c] has bit i set where piece[i] is c or ``?``).
_Piece = str | tuple[int, dict[str, int], int]


def _piece(tokens: list[Token], ignore_case: bool) -> _Piece:
    if all(isinstance(t, str) for t in tokens):
        text = "".join(str(t) for t in tokens)
        return fold(text) if ignore_case else text
    any_mask = 0
    masks: dict[str, int] = {}
    for i, t in enumerate(tokens):
        if t is ONE:
            any_mask |= 1 << i
        else:
            c = fold(str(t)) if ignore_case else str(t)
            masks[c] = masks.get(c, 0) | 1 << i
    for c in masks:
        masks[c] |= any_mask
    return (len(tokens), masks, any_mask)


@lru_cache(maxsize=4096)
def _compile(pattern: Pattern, ignore_case: bool) -> tuple[tuple[_Piece, ...], bool]:
    """The pieces between stars, and whether the pattern contains a star at all."""
    pieces: list[_Piece] = []
    current: list[Token] = []
    for t in pattern:
        if t is STAR:
            pieces.append(_piece(current, ignore_case))
            current = []
        else:
            current.append(t)
    pieces.append(_piece(current, ignore_case))
    return tuple(pieces), len(pieces) > 1


def _length(piece: _Piece) -> int:
    return len(piece) if isinstance(piece, str) else piece[0]


def _at(piece: _Piece, text: str, pos: int) -> bool:
    """Does ``piece`` match ``text`` exactly at ``pos``? (:func:`matches` only asks where it fits.)"""
    if isinstance(piece, str):
        return text.startswith(piece, pos)
    size, masks, any_mask = piece
    return all((masks.get(text[pos + i], any_mask) >> i) & 1 for i in range(size))


def _find(piece: _Piece, text: str, start: int, stop: int) -> int:
    """Leftmost index ``>= start`` where ``piece`` matches wholly inside ``text[:stop]``, or -1."""
    if isinstance(piece, str):
        return text.find(piece, start, stop)
    size, masks, any_mask = piece  # size >= 1: a piece with masks holds at least one "?"
    state, hit = 0, 1 << (size - 1)
    for i in range(start, stop):
        state = ((state << 1) | 1) & masks.get(text[i], any_mask)
        if state & hit:
            return i - size + 1
    return -1


def matches(pattern: Pattern, text: str, *, ignore_case: bool = False) -> bool:
    """Does the concrete string ``text`` match ``pattern``? Linear in ``len(text)``."""
    pieces, starred = _compile(pattern, ignore_case)
    if ignore_case:
        text = fold(text)
    if not starred:
        return _length(pieces[0]) == len(text) and _at(pieces[0], text, 0)
    first, last = pieces[0], pieces[-1]
    pos, stop = _length(first), len(text) - _length(last)
    if pos > stop or not _at(first, text, 0) or not _at(last, text, stop):
        return False
    for piece in pieces[1:-1]:
        found = _find(piece, text, pos, stop)
        if found < 0:
            return False
        pos = found + _length(piece)
    return True


# -- pattern against pattern --------------------------------------------------------------------
def _key(token: Token, ignore_case: bool) -> str:
    return fold(str(token)) if ignore_case else str(token)


def _masks(pattern: Pattern, ignore_case: bool) -> tuple[int, int, int, dict[str, int]]:
    """Bit sets over positions of ``pattern``: stars, ``?``, non-stars, and per literal character."""
    stars = ones = 0
    chars: dict[str, int] = {}
    for j, t in enumerate(pattern):
        if t is STAR:
            stars |= 1 << j
        elif t is ONE:
            ones |= 1 << j
        else:
            key = _key(t, ignore_case)
            chars[key] = chars.get(key, 0) | 1 << j
    nonstar = ((1 << len(pattern)) - 1) & ~stars
    return stars, ones, nonstar, chars


def _upto_highest(bits: int) -> int:
    """Every position at or below the highest set bit (a star on the other side absorbs the rest)."""
    return (1 << bits.bit_length()) - 1 if bits else 0


def _fill_down(bits: int, through: int, size: int) -> int:
    """Add ``j`` whenever ``j`` is in ``through`` and ``j + 1`` is in the result (log-step doubling)."""
    shift, run = 1, through
    while run and shift <= size:
        bits |= (bits >> shift) & run
        run &= run >> shift
        shift <<= 1
    return bits


def covers(outer: Pattern, inner: Pattern, *, ignore_case: bool = False) -> bool:
    """Is every string matched by ``inner`` also matched by ``outer``?

    Only a ``*`` in ``outer`` can absorb a ``*`` in ``inner``; a ``?`` in ``inner`` needs
    ``?`` or ``*`` in ``outer``. Exact for the shapes IAM policies use and conservative
    otherwise (``?*`` is not recognised as covering ``*?``): a false "not covered" fails a
    must-allow probe or reports a leak, never the reverse.
    """
    _, _, nonstar, chars = _masks(inner, ignore_case)
    row = 1 << len(inner)  # row i: the j such that outer[i:] covers inner[j:]
    for token in reversed(outer):
        if token is STAR:
            row = _upto_highest(row)
        elif token is ONE:
            row = (row >> 1) & nonstar
        else:
            row = (row >> 1) & chars.get(_key(token, ignore_case), 0)
        if not row:
            return False
    return bool(row & 1)


def overlaps(a: Pattern, b: Pattern, *, ignore_case: bool = False) -> bool:
    """Is there at least one string matched by both patterns?"""
    stars, ones, nonstar, chars = _masks(b, ignore_case)
    size = len(b)
    row = _fill_down(1 << size, stars, size)  # row i: the j such that a[i:] and b[j:] overlap
    for token in reversed(a):
        if token is STAR:
            row = _upto_highest(row)
            continue
        compatible = nonstar if token is ONE else chars.get(_key(token, ignore_case), 0) | ones
        base = (stars & row) | ((row >> 1) & compatible)
        row = _fill_down(base, stars, size)
        if not row:
            return False
    return bool(row & 1)
