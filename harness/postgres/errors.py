"""What a server error may say in a message: its first line, except where that line quotes a value.

PostgreSQL's data exceptions (SQLSTATE class 22) put the refused value in their primary message
(``invalid input syntax for type integer: "…"``, ``value "…" is out of range for type integer``),
and so may a trigger or function that raises (``P0001``, the author's own text). For those the
condition's name stands in for the text; every other first line names objects (constraints,
columns, relations), not values, whose details PostgreSQL keeps on the DETAIL line.
"""

from __future__ import annotations

import psycopg

from harness.errors import first_line

#: SQLSTATE classes and codes whose message text may quote a value.
_QUOTES_VALUES = ("22", "P0001")


def quotes_values(exc: BaseException) -> bool:
    state = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, psycopg.Error) and state.startswith(_QUOTES_VALUES)


def server_error(exc: BaseException) -> str:
    """One line for ``exc``: ``first_line`` unless its text may quote a value (then the condition)."""
    if not quotes_values(exc):
        return first_line(exc)
    assert isinstance(exc, psycopg.Error)
    return f"a value was refused: {condition(exc)} (SQLSTATE {exc.sqlstate}, value withheld)"


def condition(exc: psycopg.Error) -> str:
    """The condition's name in words, from psycopg's class for the SQLSTATE (``invalid text
    representation``); ``error`` when psycopg has no class for it."""
    name = type(exc).__name__
    if name in ("Error", "DatabaseError", "DataError", "InternalError", "ProgrammingError"):
        return "raise exception" if exc.sqlstate == "P0001" else "data exception"
    words = [c if c.islower() or c.isdigit() else " " + c.lower() for c in name]
    return "".join(words).strip()
