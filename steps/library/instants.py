"""Timestamps compared as instants, never as strings: "2001-01-01T00:00:00Z",
"2001-01-01T00:00:00+00:00" and "2001-01-01T01:00:00.000+01:00" are one instant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_instant(value: Any) -> datetime | None:
    """The instant an ISO 8601 date-time names, else None; one without an offset is read as UTC
    (a server that writes back a client's value without its Z still honoured it)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def same_instant(a: Any, b: Any) -> bool:
    """Whether two values name one instant (or, when either is no timestamp, are equal)."""
    first, second = parse_instant(a), parse_instant(b)
    if first is None or second is None:
        return bool(a == b)
    return first == second
