"""``candlewick.testing``'s stand-in sink and buffer keep the plugin contracts."""

from __future__ import annotations

import anyio
import pytest

from candlewick.model import Candle
from candlewick.runtime import names
from candlewick.runtime.clock import ManualClock
from candlewick.testing import MemorySink, PassThroughBuffer
from tests.supervisor.helpers import context

pytestmark = pytest.mark.anyio


def candle(t: int, *, closed: bool, trades: int = 1, coin: str = "BTC") -> Candle:
    return Candle(coin, "1m", t, t + 59_999, "1", "2", "0.5", "1.5", "3", trades, closed)


async def test_memory_sink_never_goes_backwards_and_answers_queries() -> None:
    ctx = context("mem", ManualClock())
    sink = MemorySink(ctx)
    await sink.write(
        [candle(0, closed=True, trades=5), candle(60_000, closed=False), candle(0, coin="ETH", closed=True)]
    )
    await sink.write([candle(0, closed=False, trades=9), candle(120_000, closed=True)])
    assert sink.rows[("BTC", "1m", 0)].trades == 5, "an open update never replaces a closed row"
    assert [c.open_time for c in await sink.recent("BTC", "1m", 2)] == [60_000, 120_000]
    assert await sink.recent("BTC", "1m", 0) == []
    assert await sink.open_times("BTC", "1m", 0, 119_999) == [0]
    assert await sink.open_times("BTC", "1m", 0, 120_000) == [0, 120_000]
    assert ctx.telemetry.metrics.value(names.ROWS_WRITTEN, sink="mem") == 5


async def test_pass_through_buffer_writes_each_candle_and_drains() -> None:
    clock = ManualClock()
    sink = MemorySink(context("mem", clock))
    send, receive = anyio.create_memory_object_stream[Candle](4)
    ctx = context("through", clock)
    ctx.inbox = receive
    ctx.lookup = lambda name: sink
    buffer = PassThroughBuffer(ctx, capacity=100)
    async with receive, anyio.create_task_group() as tg:
        await tg.start(buffer.run)
        async with send:
            await send.send(candle(0, closed=True))
            await send.send(candle(60_000, closed=False))
    assert sorted(sink.rows) == [("BTC", "1m", 0), ("BTC", "1m", 60_000)]
    assert buffer.depth() == 0
    assert ctx.telemetry.metrics.value(names.BUFFER_CAPACITY) == 100
