"""Building blocks for storage tests: candles, contexts, and running a component in a task group."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from candlewick.config import Settings
from candlewick.model import Candle, close_time
from candlewick.plugin import CandleOutlet, Component, ComponentContext
from candlewick.plugins.memory_buffer.buffer import MemoryBuffer
from candlewick.plugins.memory_buffer.config import MemoryBufferConfig
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.sink import SqliteSink
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.telemetry import Telemetry

T0 = 1_700_000_040_000  # a minute boundary


def candle(
    i: int = 0,
    *,
    trades: int = 1,
    closed: bool = False,
    coin: str = "BTC",
    interval: str = "1m",
    volume: str | None = None,
    close: str | None = None,
) -> Candle:
    """The ``i``-th candle of a market; prices derive from ``i`` and ``trades`` so versions differ."""
    t = T0 + i * 60_000 if interval == "1m" else T0
    return Candle(
        coin=coin,
        interval=interval,
        open_time=t,
        close_time=close_time(interval, t),
        open=f"{30000 + i}.5",
        high=f"{30010 + i}.25",
        low=f"{29990 + i}.125",
        close=close if close is not None else f"{30000 + i + trades}.0",
        volume=volume if volume is not None else f"{trades}.00012340",
        trades=trades,
        closed=closed,
        origin="rest" if closed else "live",
    )


class Components:
    """A name -> component table for ``ctx.component``."""

    def __init__(self) -> None:
        self.table: dict[str, Component] = {}

    def __call__(self, name: str) -> Component:
        return self.table[name]


def context(
    name: str,
    config: Any,
    *,
    settings: Settings | None = None,
    clock: Clock | None = None,
    telemetry: Telemetry | None = None,
    inbox: MemoryObjectReceiveStream[Candle] | None = None,
    lookup: Components | None = None,
    data_dir: Path | None = None,
) -> ComponentContext[Any]:
    clock = clock or SystemClock()
    send, receive = anyio.create_memory_object_stream[Candle](1)
    send.close()  # storage components do not produce candles
    receive.close()
    return ComponentContext(
        name=name,
        config=config,
        settings=settings or Settings(sources={}),
        telemetry=telemetry or Telemetry(clock),
        clock=clock,
        log=logging.LoggerAdapter(logging.getLogger(f"candlewick.component.{name}"), {}),
        candles=CandleOutlet(send),
        inbox=inbox,
        lookup=lookup,
        data_dir=data_dir or Path.cwd(),
    )


def sqlite_sink(
    path: Path, *, clock: Clock | None = None, telemetry: Telemetry | None = None, **options: Any
) -> SqliteSink:
    return SqliteSink(context("sqlite", SqliteConfig(path=path, **options), clock=clock, telemetry=telemetry))


class Pipeline:
    """An inbox, a memory buffer and a sink wired like the daemon wires them."""

    def __init__(
        self,
        sink: Component,
        spool_dir: Path,
        *,
        clock: Clock | None = None,
        queue_size: int = 1000,
        spool: Mapping[str, Any] | None = None,
        **buffer_options: Any,
    ) -> None:
        self.clock = clock or SystemClock()
        self.telemetry = sink.ctx.telemetry
        send, receive = anyio.create_memory_object_stream[Candle](queue_size)
        self.send: MemoryObjectSendStream[Candle] = send
        lookup = Components()
        lookup.table[sink.name] = sink
        settings = Settings.model_validate(
            {"sources": {}, "sink": {"use": sink.name}, "spool": {"dir": spool_dir, **(spool or {})}}
        )
        self.sink = sink
        self.buffer = MemoryBuffer(
            context(
                "memory",
                MemoryBufferConfig(**buffer_options),
                settings=settings,
                clock=self.clock,
                telemetry=self.telemetry,
                inbox=receive,
                lookup=lookup,
            )
        )
        lookup.table["memory"] = self.buffer
        self._receive = receive
        self.buffer_done = anyio.Event()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[TaskGroup]:
        """Run sink and buffer; on exit end the input, let the buffer drain, stop the sink."""
        try:
            async with anyio.create_task_group() as tg:
                await start(tg, self.sink)
                await tg.start(self._run_buffer)
                yield tg
                self.send.close()
                with anyio.fail_after(30):
                    await self.buffer_done.wait()
                tg.cancel_scope.cancel()
        finally:
            self.send.close()
            self._receive.close()

    async def _run_buffer(self, *, task_status: Any) -> None:
        try:
            await self.buffer.run(task_status=task_status)
        finally:
            self.buffer_done.set()

    def metric(self, name: str, **labels: str) -> float:
        return self.telemetry.metrics.value(name, **labels)

    def events(self, kind: str) -> list[str]:
        return [e.message for e in self.telemetry.events.recent(500) if e.kind == kind]


async def start(tg: TaskGroup, component: Component) -> None:
    """Start a component the way the supervisor does, waiting until it is ready."""
    await tg.start(_run, component)


async def _run(component: Component, *, task_status: Any) -> None:
    await component.run(task_status=task_status)
