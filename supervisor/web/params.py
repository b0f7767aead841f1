"""Query parameters of the API, checked in one place; no I/O.

Each parser takes the raw query (a mapping of names to strings) and returns typed values or
raises :class:`~candlewick.web.replies.ApiError` naming the parameter and what it allows, in
the control socket's words: ``parameter 'limit' must be an integer from 1 to 5000, got '0'``.
Times are integer milliseconds since the epoch or ISO-8601 (``2024-05-01``,
``2024-05-01T12:00:00Z``; without a zone, UTC), read by the exporter's one parser; the columns
are the exporter's (:mod:`candlewick.exporting.formats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from candlewick.exporting import times as exporting_times
from candlewick.exporting.formats import COLUMNS, check_columns
from candlewick.model import INTERVALS
from candlewick.web.replies import ApiError

__all__ = [
    "COLUMNS",
    "FORMATS",
    "MAX_PAGE",
    "CandleQuery",
    "MarketQuery",
    "candle_query",
    "market_query",
    "parse_time",
    "time_range",
]

#: Answer formats of ``/api/v1/candles`` and ``/api/v1/export``.
FORMATS: Final = ("json", "csv", "ndjson")
#: Most rows one page of ``/api/v1/candles`` holds.
MAX_PAGE: Final = 5000
DEFAULT_PAGE: Final = 1000
_TRUE: Final = ("1", "true", "yes")
_FALSE: Final = ("0", "false", "no")


@dataclass(frozen=True)
class MarketQuery:
    coin: str
    interval: str


@dataclass(frozen=True)
class CandleQuery:
    """A range of one market: ``[start, end)`` by open time; ``limit`` None means all of it."""

    coin: str
    interval: str
    start: int | None
    end: int | None
    limit: int | None
    columns: tuple[str, ...]
    closed_only: bool
    format: str


def _required(query: Mapping[str, str], name: str, allowed: str) -> str:
    value = query.get(name)
    if value is None or not value.strip():
        raise ApiError(name, f"missing parameter {name!r} ({allowed})")
    return value.strip()


def market_query(query: Mapping[str, str]) -> MarketQuery:
    """``coin`` and ``interval``, both required."""
    coin = _required(query, "coin", "a coin such as BTC")
    interval = _required(query, "interval", "one of " + ", ".join(INTERVALS))
    if interval not in INTERVALS:
        raise ApiError("interval", f"parameter 'interval' must be one of {', '.join(INTERVALS)}, got {interval!r}")
    return MarketQuery(coin, interval)


def parse_time(name: str, value: str) -> int:
    """Milliseconds since the epoch, from ms digits or an ISO-8601 date or time (UTC unless zoned)."""
    try:
        return exporting_times.parse_time(value)
    except ValueError as exc:
        raise ApiError(name, f"parameter {name!r}: {exc}") from None


def _optional_time(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    return None if value is None or not value.strip() else parse_time(name, value)


def time_range(query: Mapping[str, str]) -> tuple[int | None, int | None]:
    """``start`` and ``end``, each optional; ``end`` after ``start``."""
    start, end = _optional_time(query, "start"), _optional_time(query, "end")
    if start is not None and end is not None and end <= start:
        raise ApiError("end", f"parameter 'end' must be after 'start' ({start}), got {query['end']!r}")
    return start, end


def parse_int(query: Mapping[str, str], name: str, lo: int, hi: int, default: int | None) -> int | None:
    """An integer in ``[lo, hi]``, or ``default`` when absent."""
    value = query.get(name)
    if value is None or not value.strip():
        return default
    text = value.strip()
    if not text.lstrip("-").isdigit() or not lo <= int(text) <= hi:
        shown = text if text.lstrip("-").isdigit() else repr(value)
        raise ApiError(name, f"parameter {name!r} must be an integer from {lo} to {hi}, got {shown}")
    return int(text)


def parse_bool(query: Mapping[str, str], name: str, default: bool) -> bool:
    value = query.get(name)
    if value is None or not value.strip():
        return default
    text = value.strip().lower()
    if text not in _TRUE + _FALSE:
        raise ApiError(name, f"parameter {name!r} must be true or false, got {value!r}")
    return text in _TRUE


def parse_choice(query: Mapping[str, str], name: str, choices: Sequence[str], default: str) -> str:
    value = query.get(name)
    if value is None or not value.strip():
        return default
    if value.strip() not in choices:
        raise ApiError(name, f"parameter {name!r} must be one of {', '.join(choices)}, got {value!r}")
    return value.strip()


def parse_columns(query: Mapping[str, str]) -> tuple[str, ...]:
    """Comma-separated row columns (``derived`` among them), kept in the order asked (default: :data:`COLUMNS`)."""
    value = query.get("columns")
    if value is None or not value.strip():
        return COLUMNS
    try:
        columns: tuple[str, ...] = check_columns([part.strip() for part in value.split(",") if part.strip()])
        return columns
    except ValueError as exc:
        raise ApiError("columns", f"parameter 'columns': {exc}") from None


def candle_query(query: Mapping[str, str], *, paged: bool) -> CandleQuery:
    """The parameters of ``/api/v1/candles`` (``paged``: a page of at most :data:`MAX_PAGE` rows)
    or of ``/api/v1/export`` (the whole range, CSV or NDJSON)."""
    market = market_query(query)
    start, end = time_range(query)
    if paged:
        limit = parse_int(query, "limit", 1, MAX_PAGE, DEFAULT_PAGE)
        fmt = parse_choice(query, "format", FORMATS, "json")
    else:
        limit = parse_int(query, "limit", 1, 10**12, None)
        fmt = parse_choice(query, "format", FORMATS[1:], "csv")
    return CandleQuery(
        coin=market.coin,
        interval=market.interval,
        start=start,
        end=end,
        limit=limit,
        columns=parse_columns(query),
        closed_only=parse_bool(query, "closed_only", False),
        format=fmt,
    )
