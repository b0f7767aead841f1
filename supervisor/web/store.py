"""The configured sink's read side, as the routes find it, and the JSON shapes of what it returns."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from candlewick.plugin import Component, Sink
from candlewick.readers import ledger_path, read_coverage
from candlewick.reading import FOREVER, CandleReader, StoredMarket
from candlewick.web.replies import ApiError

if TYPE_CHECKING:
    from candlewick.control.methods import ControlHost

log = logging.getLogger("candlewick.web")

__all__ = ["END_OF_TIME", "market_json", "reader"]

#: The open end of a range without ``end``.
END_OF_TIME: Final = FOREVER


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


async def coverage(
    host: ControlHost, coin: str, interval: str, start: int | None, end: int | None
) -> list[dict[str, int | bool]]:
    """Coverage per UTC day (stored, expected, confirmed empty, lost for good, missing) from the
    store's day counts and the gap-repair ledger of this sink."""
    source = reader(host)
    sink = host.settings.sink.use
    ledger = ledger_path(host.settings, sink, source.target())
    now = int(host.clock.time() * 1000)
    days = await read_coverage(source, coin, interval, now, ledger=ledger, start=start, end=end)
    return [day.to_json() for day in days]
