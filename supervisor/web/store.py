"""The configured sink's read side, as the routes find it, and the JSON shapes of what it returns."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from candlewick.plugin import Component, Sink
from candlewick.reading import CandleReader, StoredMarket
from candlewick.web.replies import ApiError

if TYPE_CHECKING:
    from candlewick.control.methods import ControlHost

log = logging.getLogger("candlewick.web")

__all__ = ["END_OF_TIME", "market_json", "reader"]

#: The open end of a range without ``end`` (ms; 2**53, the largest integer JavaScript keeps exact).
END_OF_TIME: Final = 2**53


def reader(host: ControlHost) -> CandleReader:
    """The sink's reader; it answers while the sink's writer is down. 503 when there is none."""
    wanted = host.settings.sink.use
    component: Component | None = host.components.get(wanted)
    if not isinstance(component, Sink):
        raise ApiError(None, f"the sink {wanted!r} is not configured in this daemon", status=503)
    try:
        return component.reader()
    except NotImplementedError as exc:
        raise ApiError(None, f"{exc}: it cannot be read over the web API", status=501) from None


def market_json(market: StoredMarket) -> dict[str, Any]:
    return {
        "coin": market.coin,
        "interval": market.interval,
        "first": market.first,
        "last": market.last,
        "count": market.count,
    }


async def coverage(host: ControlHost, coin: str, interval: str) -> list[dict[str, int]]:
    """``{"day", "stored", "expected", "lost"}`` per UTC day of the market's stored range."""
    raise ApiError(None, "coverage is not available yet", status=501)
