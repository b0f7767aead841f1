"""Small real components for runtime tests (no mocks: they run under the real supervisor)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.config import Settings
from candlewick.model import Candle
from candlewick.plugin import (
    Buffer,
    CandleOutlet,
    Component,
    ComponentContext,
    Kind,
    Sink,
    Source,
)
from candlewick.runtime.clock import Clock
from candlewick.runtime.telemetry import Telemetry
from candlewick.testing import MemorySink

RunFn = Callable[[Component, TaskStatus[None]], Awaitable[None]]


def context(name: str, clock: Clock, telemetry: Telemetry | None = None) -> ComponentContext[Any]:
    """A context for a component supervised outside a daemon."""
    send, receive = anyio.create_memory_object_stream[Candle](1)
    send.close()  # these components do not produce candles
    receive.close()
    return ComponentContext(
        name=name,
        config=None,
        settings=Settings(),
        telemetry=telemetry or Telemetry(clock),
        clock=clock,
        log=logging.LoggerAdapter(logging.getLogger(name), {}),
        candles=CandleOutlet(send),
    )


class Scripted(Component):
    """Runs a test-provided coroutine as its body; counts its starts."""

    def __init__(self, ctx: ComponentContext[Any], kind: Kind, body: RunFn) -> None:
        super().__init__(ctx)
        self.kind = kind  # type: ignore[misc]
        self.body = body
        self.starts = 0

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.starts += 1
        await self.body(self, task_status)


async def crash_at_once(component: Component, task_status: TaskStatus[None]) -> None:
    task_status.started()
    raise RuntimeError("boom")


async def crash_before_ready(component: Component, task_status: TaskStatus[None]) -> None:
    raise ConnectionRefusedError("refused")


async def run_forever(component: Component, task_status: TaskStatus[None]) -> None:
    task_status.started()
    await anyio.sleep_forever()


async def return_at_once(component: Component, task_status: TaskStatus[None]) -> None:
    task_status.started()


def candle(t: int, *, coin: str = "BTC", trades: int = 1, closed: bool = False) -> Candle:
    return Candle(coin, "1m", t, t + 59_999, "1", "2", "0.5", "1.5", "3.25", trades, closed)


class Recorder:
    """Shared log of lifecycle steps, in order."""

    def __init__(self) -> None:
        self.steps: list[str] = []


class OrderSource(Source):
    """Emits a few candles, then waits; records when it is stopped."""

    def __init__(self, ctx: ComponentContext[Any], rec: Recorder, count: int = 5) -> None:
        super().__init__(ctx)
        self.rec = rec
        self.count = count

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            for i in range(self.count):
                await self.ctx.candles.send(candle(i * 60_000, coin=self.name))
            await anyio.sleep_forever()
        finally:
            self.rec.steps.append(f"source {self.name} stopped")


class RecordingSink(MemorySink):
    """:class:`~candlewick.testing.MemorySink` that logs its writes and its closing to a :class:`Recorder`."""

    def __init__(self, ctx: ComponentContext[Any], rec: Recorder) -> None:
        super().__init__(ctx)
        self.rec = rec

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        try:
            await super().run(task_status=task_status)
        finally:
            self.rec.steps.append("sink closed")

    async def write(self, batch: Sequence[Candle]) -> None:
        await super().write(batch)
        self.rec.steps.append(f"sink wrote {len(batch)}")


class ListBuffer(Buffer):
    """Collects candles and writes them to the sink when its input ends (drain)."""

    def __init__(self, ctx: ComponentContext[Any], rec: Recorder) -> None:
        super().__init__(ctx)
        self.rec = rec
        self.held: list[Candle] = []

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        assert self.ctx.inbox is not None
        task_status.started()
        async for c in self.ctx.inbox:
            self.held.append(c)
        sink = self.ctx.component(self.ctx.settings.sink.use)
        assert isinstance(sink, Sink)
        await sink.write(self.held)
        self.rec.steps.append(f"buffer drained {len(self.held)}")

    def depth(self) -> int:
        return len(self.held)
