"""Fixtures of the Hyperliquid tests: a fake exchange on loopback and a running source against it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from candlewick.config import Settings
from candlewick.model import Candle
from candlewick.plugin import CandleOutlet, ComponentContext
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.source import HyperliquidSource
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.telemetry import Event, Telemetry
from candlewick.testing import DEFAULT_COINS, FakeExchange

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hyperliquid"

#: Short timings so reconnect tests take a fraction of a second.
FAST: dict[str, Any] = {
    "coins": ["BTC"],
    "intervals": ["1m"],
    "backfill_on_start": "none",
    "ping_interval": 0.2,
    "pong_timeout": 0.3,
    "open_timeout": 2.0,
    "reconnect_initial": 0.05,
    "reconnect_max": 0.2,
    "healthy_after": 0.5,
    "rest_timeout": 5.0,
    "rest_retries": 3,
    "rest_backoff_initial": 0.05,
    "close_grace": 1.0,
}


def recorded(name: str) -> dict[str, Any]:
    """A recorded mainnet response (request, status, response)."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


#: The default coins, trading 20 times as often: a push every 50 ms carries news.
BUSY_COINS = tuple(replace(c, activity=c.activity * 20) for c in DEFAULT_COINS)


@pytest.fixture
async def exchange() -> AsyncIterator[FakeExchange]:
    """A fake exchange with busy coins and quick pushes, on a free loopback port."""
    async with FakeExchange(seed=7, push_interval=0.05, coins=BUSY_COINS) as ex:
        yield ex


@dataclass
class Harness:
    """A running source, what it emitted, and its telemetry."""

    source: HyperliquidSource
    telemetry: Telemetry
    exchange: FakeExchange
    candles: list[Candle] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def metric(self, name: str, **labels: str) -> float:
        return self.telemetry.metrics.value(name, **labels)

    def events_of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]

    async def wait_for(self, what: Callable[[], object], timeout: float = 5.0, message: str = "") -> None:
        """Poll until ``what()`` is true; fail after ``timeout`` real seconds."""
        with anyio.fail_after(timeout):
            while not what():
                await anyio.sleep(0.01)

    async def _drain(self, receive: MemoryObjectReceiveStream[Candle]) -> None:
        async for candle in receive:
            self.candles.append(candle)


def make_source(
    exchange: FakeExchange, *, clock: Clock | None = None, queue: int = 100_000, **overrides: Any
) -> tuple[HyperliquidSource, Telemetry, MemoryObjectReceiveStream[Candle]]:
    """A source built as the daemon builds it, pointed at ``exchange`` (close the stream after use)."""
    clock = clock or SystemClock()
    config = HyperliquidConfig.model_validate(
        {**FAST, "ws_url": exchange.ws_url, "rest_url": exchange.rest_url, **overrides}
    )
    telemetry = Telemetry(clock)
    send, receive = anyio.create_memory_object_stream[Candle](max_buffer_size=queue)
    ctx = ComponentContext(
        name="hyperliquid",
        config=config,
        settings=Settings(),
        telemetry=telemetry,
        clock=clock,
        log=logging.LoggerAdapter(logging.getLogger("test.hyperliquid"), {}),
        candles=CandleOutlet(send),
    )
    _streams.append(send)
    return HyperliquidSource(ctx), telemetry, receive


_streams: list[MemoryObjectSendStream[Candle]] = []


@pytest.fixture(autouse=True)
def _close_streams() -> Iterator[None]:
    yield
    while _streams:
        _streams.pop().close()


@asynccontextmanager
async def running_source(
    exchange: FakeExchange, *, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    """Start the source (``tg.start``), collect what it emits, cancel it at the end."""
    source, telemetry, receive = make_source(exchange, clock=clock, **overrides)
    harness = Harness(source, telemetry, exchange)
    telemetry.events.add_listener(harness.events.append)
    async with receive, anyio.create_task_group() as tg:
        tg.start_soon(harness._drain, receive)
        await tg.start(source.run)
        yield harness
        tg.cancel_scope.cancel()
