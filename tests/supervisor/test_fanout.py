"""The daemon's one fan-out: bounded per subscriber, never blocking, filtered at the door."""

from __future__ import annotations

import anyio
import pytest

from candlewick.model import Candle
from candlewick.plugin import CandleOutlet
from candlewick.runtime.telemetry import Fanout

pytestmark = pytest.mark.anyio


def _candle(coin: str, t: int) -> Candle:
    return Candle(coin, "1m", t, t + 59_999, "1", "1", "1", "1", "0", 0)


async def test_each_subscriber_gets_what_it_accepts_and_overflow_is_counted() -> None:
    fanout = Fanout[Candle]()
    with fanout.subscribe(2) as everything, fanout.subscribe(10, accept=lambda c: c.coin == "ETH") as eth:
        assert len(fanout) == 2
        for t in range(4):
            fanout.offer(_candle("BTC" if t % 2 == 0 else "ETH", t * 60_000))
        got = [everything.receive.receive_nowait().open_time for _ in range(2)]
        assert got == [0, 60_000]
        assert everything.dropped == 2, "a full queue loses items, counted, and never blocks the producer"
        assert [eth.receive.receive_nowait().open_time for _ in range(2)] == [60_000, 180_000]
        assert eth.dropped == 0
    assert len(fanout) == 0


async def test_the_outlet_tees_into_the_live_feed_only_while_someone_listens() -> None:
    send, receive = anyio.create_memory_object_stream[Candle](10)
    live = Fanout[Candle]()
    outlet = CandleOutlet(send, live=live)
    async with send, receive:
        await outlet.send(_candle("BTC", 0))  # nobody subscribed: the buffer alone gets it
        with live.subscribe() as sub:
            await outlet.send(_candle("BTC", 60_000))
            outlet.send_nowait(_candle("BTC", 120_000))
            await outlet.send_many([_candle("BTC", 180_000), _candle("BTC", 240_000)])  # the hot path's batches
            got = [sub.receive.receive_nowait().open_time for _ in range(4)]
            assert got == [60_000, 120_000, 180_000, 240_000]
        assert [receive.receive_nowait().open_time for _ in range(5)] == [0, 60_000, 120_000, 180_000, 240_000]
