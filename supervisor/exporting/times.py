"""Times given by people: ms since the epoch, or ISO-8601 (UTC unless it names an offset)."""

from __future__ import annotations

import datetime as dt

__all__ = ["parse_time"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def parse_time(text: str) -> int:
    """``"1700000000000"`` or ``"2024-01-31"``, ``"2024-01-31T12:00Z"``, ``"2024-01-31T12:00+02:00"`` -> ms.

    A bare number is ms since the epoch; a date or a time without an offset is UTC. Raises
    ``ValueError`` saying what is accepted.
    """
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give ms since the epoch (1700000000000)"
            " or ISO-8601 (2024-01-31, 2024-01-31T12:00Z)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when - _EPOCH) // dt.timedelta(milliseconds=1)
