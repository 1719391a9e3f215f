"""EventBridge / Scheduler schedule expressions: ``rate(...)``, ``cron(...)``, ``at(...)``, parsed by hand.

The grammar is the one EventBridge documents: ``rate(value unit)`` with a positive whole
value and a singular unit for 1, plural otherwise; ``cron(minutes hours day-of-month month
day-of-week year)`` with ``, - * / ? L W #`` where each field allows them, and exactly one
of day-of-month / day-of-week set to ``?``; ``at(yyyy-mm-ddThh:mm:ss)`` (Scheduler only,
one time). No regular expressions: the text comes from the template under review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

_UNITS = {"minute": 1, "hour": 60, "day": 1440}
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_DAYS = {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)}
# field name, low, high, names
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minutes", 0, 59, {}),
    ("hours", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _DAYS),
    ("year", 1970, 2199, {}),
)


@dataclass(frozen=True)
class Expression:
    kind: str  # rate | cron | at
    minutes: int = 0  # rate: the period in minutes
    fields: tuple[str, ...] = ()  # cron: the six fields

    @property
    def recurring(self) -> bool:
        return self.kind != "at"

    @property
    def daily(self) -> bool:
        """Exactly once a day: ``rate(1 day)``-equivalents or a cron with one minute and one hour."""
        if self.kind == "rate":
            return self.minutes == 1440
        if self.kind != "cron":
            return False
        minute, hour, dom, month, dow, year = self.fields
        return (
            minute.isdigit() and hour.isdigit() and dom in ("*", "?") and month == "*"
            and dow in ("*", "?") and year == "*"
        )  # fmt: skip


class InvalidSchedule(ValueError):
    """Not a schedule expression EventBridge accepts; the message says why (never echoes it)."""


def _number(text: str, low: int, high: int, names: dict[str, int], what: str) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isascii() or not text.isdigit():
            raise InvalidSchedule(f"{what}: not a number")
        value = int(text)
    if not low <= value <= high:
        raise InvalidSchedule(f"{what}: outside {low}-{high}")
    return value


def _cron_item(item: str, index: int) -> None:
    name, low, high, names = _FIELDS[index]
    if item == "*" or (item == "?" and name in ("day-of-month", "day-of-week")):
        return
    if name == "day-of-month" and item in ("L", "LW"):
        return
    if name == "day-of-month" and item.endswith("W"):
        _number(item[:-1], low, high, names, name)
        return
    if name == "day-of-week" and "#" in item:
        day, _, nth = item.partition("#")
        _number(day, low, high, names, name)
        _number(nth, 1, 5, {}, name)
        return
    if name == "day-of-week" and item.endswith("L") and len(item) > 1:
        _number(item[:-1], low, high, names, name)
        return
    base, slash, step = item.partition("/")
    if slash:
        _number(step, 1, high, {}, name)
    if base == "*" and slash:
        return
    start, dash, end = base.partition("-")
    _number(start, low, high, names, name)
    if dash:
        _number(end, low, high, names, name)


def parse(text: str) -> Expression:
    """The parsed expression, or :class:`InvalidSchedule`."""
    body = text.strip()
    kind, paren, rest = body.partition("(")
    if not paren or not rest.endswith(")"):
        raise InvalidSchedule("not rate(...), cron(...) or at(...)")
    inner = rest[:-1].strip()
    if kind == "rate":
        value, _, unit = inner.partition(" ")
        unit = unit.strip()
        if not value.isascii() or not value.isdigit() or value.startswith("0"):
            raise InvalidSchedule("rate: the value must be a positive whole number")
        singular = unit[:-1] if unit.endswith("s") else unit
        if singular not in _UNITS:
            raise InvalidSchedule("rate: the unit must be minute(s), hour(s) or day(s)")
        if (int(value) == 1) != (unit == singular):
            raise InvalidSchedule("rate: use a singular unit for 1 and a plural one otherwise")
        return Expression("rate", minutes=int(value) * _UNITS[singular])
    if kind == "cron":
        fields = tuple(inner.split())
        if len(fields) != 6:
            raise InvalidSchedule(
                "cron: six fields expected (minutes hours day-of-month month day-of-week year)"
            )
        for index, field in enumerate(fields):
            for item in field.split(","):
                _cron_item(item, index)
        if (fields[2] == "?") == (fields[4] == "?"):
            raise InvalidSchedule("cron: exactly one of day-of-month and day-of-week must be ?")
        return Expression("cron", fields=fields)
    if kind == "at":
        try:
            datetime.strptime(inner, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise InvalidSchedule("at: expected yyyy-mm-ddThh:mm:ss") from None
        return Expression("at")
    raise InvalidSchedule("not rate(...), cron(...) or at(...)")
