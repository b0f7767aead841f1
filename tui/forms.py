"""Validation of what the operator types, done before anything is sent to the daemon. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from candlewick.model import INTERVALS

#: Hyperliquid coin names: perps (``BTC``, ``kPEPE``), spot pairs (``PURR/USDC``) and ids (``@107``).
COIN_RE = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9@/:._-]{0,31}$")
#: The longest backfill in days a form accepts (use ``max`` for everything the exchange has).
MAX_DAYS = 36_500


class FormError(ValueError):
    """A field has a bad value; ``field`` names it so the form can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """Params of ``backfill.start``."""

    coin: str
    intervals: tuple[str, ...]
    days: int | str

    def params(self) -> dict[str, Any]:
        return {"coin": self.coin, "intervals": list(self.intervals), "days": self.days}

    def describe(self) -> str:
        span = "all history" if self.days == "max" else f"{self.days} days"
        return f"backfill {self.coin} {','.join(self.intervals)} ({span})"


@dataclass(frozen=True, slots=True)
class MarketRequest:
    """Params of ``markets.add`` / ``markets.remove``."""

    coin: str
    interval: str

    def params(self) -> dict[str, Any]:
        return {"coin": self.coin, "interval": self.interval}


def parse_coin(raw: str) -> str:
    coin = raw.strip()
    if not coin:
        raise FormError("coin", "enter a coin, e.g. BTC")
    if not COIN_RE.match(coin):
        raise FormError("coin", f"{coin!r} is not a coin name (letters, digits, @ / : . _ -)")
    return coin


def parse_interval(raw: str) -> str:
    interval = raw.strip()
    if interval not in INTERVALS:
        raise FormError("interval", f"{interval or 'nothing'!r} is not an interval; use one of {' '.join(INTERVALS)}")
    return interval


def parse_intervals(raw: str) -> tuple[str, ...]:
    """``1m, 1h`` or ``1m 1h``: one or more known intervals, duplicates dropped, order kept."""
    parts = [p for p in re.split(r"[\s,]+", raw.strip()) if p]
    if not parts:
        raise FormError("intervals", f"enter one or more intervals: {' '.join(INTERVALS)}")
    bad = [p for p in parts if p not in INTERVALS]
    if bad:
        raise FormError("intervals", f"unknown interval {', '.join(bad)}; use {' '.join(INTERVALS)}")
    return tuple(dict.fromkeys(parts))


def parse_days(raw: str) -> int | str:
    text = raw.strip().lower()
    if text == "max":
        return "max"
    if not text.isdigit():
        raise FormError("days", "enter a number of days (1 or more) or 'max'")
    days = int(text)
    if not 1 <= days <= MAX_DAYS:
        raise FormError("days", f"days must be between 1 and {MAX_DAYS}, or 'max'")
    return days


def parse_backfill(coin: str, intervals: str, days: str) -> BackfillRequest:
    """Validate the backfill form; raises :class:`FormError` naming the first bad field."""
    return BackfillRequest(parse_coin(coin), parse_intervals(intervals), parse_days(days))


def parse_market(coin: str, interval: str) -> MarketRequest:
    """Validate the add-market form."""
    return MarketRequest(parse_coin(coin), parse_interval(interval))
