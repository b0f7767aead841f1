"""Form validation: what the operator typed is checked before anything is sent."""

from __future__ import annotations

import pytest

from candlewick.model import INTERVALS
from candlewick.tui.forms import BackfillRequest, FormError, MarketRequest, parse_backfill, parse_market


def test_valid_backfill() -> None:
    request = parse_backfill(" BTC ", "1m, 1h 1m", "30")
    assert request == BackfillRequest("BTC", ("1m", "1h"), 30)
    assert request.params() == {"coin": "BTC", "intervals": ["1m", "1h"], "days": 30}
    assert request.describe() == "backfill BTC 1m,1h (30 days)"


def test_max_days() -> None:
    request = parse_backfill("kPEPE", "1d", "MAX")
    assert request.days == "max"
    assert request.describe() == "backfill kPEPE 1d (all history)"


@pytest.mark.parametrize(
    ("coin", "intervals", "days", "field", "words"),
    [
        ("", "1m", "1", "coin", "enter a coin"),
        ("BTC USD", "1m", "1", "coin", "not a coin name"),
        ("BTC", "", "1", "intervals", "one or more intervals"),
        ("BTC", "1m 2m", "1", "intervals", "unknown interval 2m"),
        ("BTC", "1m", "0", "days", "between 1 and"),
        ("BTC", "1m", "-3", "days", "number of days"),
        ("BTC", "1m", "ten", "days", "number of days"),
        ("BTC", "1m", "99999999", "days", "between 1 and"),
    ],
)
def test_bad_backfill_names_the_field(coin: str, intervals: str, days: str, field: str, words: str) -> None:
    with pytest.raises(FormError) as info:
        parse_backfill(coin, intervals, days)
    assert info.value.field == field
    assert words in info.value.message


def test_market_form() -> None:
    assert parse_market("@107", "15m") == MarketRequest("@107", "15m")
    assert parse_market("PURR/USDC", "1M").params() == {"coin": "PURR/USDC", "interval": "1M"}
    with pytest.raises(FormError) as info:
        parse_market("BTC", "1y")
    assert info.value.field == "interval"
    assert all(iv in info.value.message for iv in INTERVALS)
