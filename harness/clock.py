"""UTC timestamps in the forms the harness writes (RFC 3339 with ``Z``, and a compact form for names)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone


def utc_iso(moment: datetime | None = None, *, micro: bool = False) -> str:
    """``moment`` (default: now) in UTC as ``YYYY-MM-DDTHH:MM:SSZ`` (``.ffffff`` with ``micro``)."""
    when = (moment or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def utc_compact(moment: datetime | None = None) -> str:
    """``moment`` (default: now) in UTC as ``YYYYMMDDTHHMMSSZ``, for file and object names."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


_DIGITS = frozenset("0123456789")


def _digits(text: str, start: int, count: int) -> int | None:
    part = text[start : start + count]
    return int(part) if len(part) == count and set(part) <= _DIGITS else None


def parse_rfc3339(text: str, *, max_fraction: int = 6) -> datetime | None:
    """``text`` as a strict RFC 3339 date-time with a zone, or None (see :func:`_parse_rfc3339`).

    The common form, ``YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z`` in ASCII, goes to ``datetime.fromisoformat``
    once its separators are where they belong: with them fixed, what fromisoformat reads is exactly
    that form with ASCII digits between them (tests/test_strict_reader.py compares the two paths)."""
    if (
        isinstance(text, str)
        and text.isascii()
        and text[-1:] == "Z"
        and (
            (len(text) == 20 and text[4:17:3] == "--T::")
            or (22 <= len(text) <= 21 + max_fraction and text[4:20:3] == "--T::.")
        )
    ):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None
    return _parse_rfc3339(text, max_fraction=max_fraction)


def _parse_rfc3339(text: str, *, max_fraction: int = 6) -> datetime | None:
    """``text`` as a strict RFC 3339 date-time with a zone, or None.

    Exactly ``YYYY-MM-DDTHH:MM:SS[.f{1,max_fraction}](Z|±HH:MM)`` (``t``/``z`` too, as RFC 3339
    allows), a real calendar date (year 0001 on), hour < 24, minute and second < 60, an offset
    within ±15:59 (PostgreSQL's range). Python's ``fromisoformat`` also reads ISO week dates, the
    basic format and hour-only times; PostgreSQL reads still more; this accepts only what both read
    the same way and nothing that loses precision (PostgreSQL keeps microseconds)."""
    if not isinstance(text, str) or not 20 <= len(text) <= 26 + max(max_fraction, 0):
        return None
    year, month, day = _digits(text, 0, 4), _digits(text, 5, 2), _digits(text, 8, 2)
    hour, minute, second = _digits(text, 11, 2), _digits(text, 14, 2), _digits(text, 17, 2)
    if text[4] != "-" or text[7] != "-" or text[10] not in "Tt" or text[13] != ":" or text[16] != ":":
        return None
    if None in (year, month, day, hour, minute, second):
        return None
    rest, micro = text[19:], 0
    if rest.startswith("."):
        digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
        if not 1 <= digits <= max_fraction:
            return None
        micro = int(rest[1 : 1 + digits].ljust(6, "0")[:6])
        rest = rest[1 + digits :]
    if rest in ("Z", "z"):
        zone = UTC
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        off_h, off_m = _digits(rest, 1, 2), _digits(rest, 4, 2)
        if off_h is None or off_m is None or off_h > 15 or off_m > 59:  # PostgreSQL's range
            return None
        sign = 1 if rest[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=off_h, minutes=off_m))
    else:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)  # type: ignore[arg-type]
    except ValueError:
        return None
