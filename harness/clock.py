"""UTC timestamps in the forms the harness writes (RFC 3339 with ``Z``, and a compact form for names)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_iso(moment: datetime | None = None, *, micro: bool = False) -> str:
    """``moment`` (default: now) in UTC as ``YYYY-MM-DDTHH:MM:SSZ`` (``.ffffff`` with ``micro``)."""
    when = (moment or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def utc_compact(moment: datetime | None = None) -> str:
    """``moment`` (default: now) in UTC as ``YYYYMMDDTHHMMSSZ``, for file and object names."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
