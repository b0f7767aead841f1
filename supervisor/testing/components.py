"""Stand-in components for tests: a sink that keeps rows in memory and a buffer that writes through.

Register them like any plugin's components, for a daemon that needs no database::

    from candlewick.plugin import ComponentSpec
    from candlewick.testing import MemorySink, PassThroughBuffer

    @hookimpl
    def candlewick_register_sinks():
        return [ComponentSpec("mem", "sink", MemorySink)]

    @hookimpl
    def candlewick_register_buffers():
        return [ComponentSpec("through", "buffer", PassThroughBuffer)]

Both keep the contracts of :class:`~candlewick.plugin.Sink` and :class:`~candlewick.plugin.Buffer`
(a closed row never becomes open again; the buffer drains when its inbox ends), so a source
plugin's tests see what a real sink would store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.model import Candle
from candlewick.plugin import Buffer, ComponentContext, Sink
from candlewick.runtime import names

__all__ = ["MemorySink", "PassThroughBuffer"]

#: A stored row's key: ``(coin, interval, open_time)``.
RowKey = tuple[str, str, int]


class MemorySink(Sink):
    """Rows in a dict under the one never-backwards rule; counts ``candlewick_rows_written_total``."""

    def __init__(self, ctx: ComponentContext[Any]) -> None:
        super().__init__(ctx)
        #: Every stored candle by ``(coin, interval, open_time)``.
        self.rows: dict[RowKey, Candle] = {}
        self._written = ctx.telemetry.metrics.counter(names.ROWS_WRITTEN, "rows", ("sink",))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()

    async def write(self, batch: Sequence[Candle]) -> None:
        """Upsert ``batch``: a candle replaces the stored one only if it supersedes it."""
        rows = self.rows
        for candle in batch:
            old = rows.get(candle.key)
            if old is None or candle.supersedes(old):
                rows[candle.key] = candle
        self._written.inc(len(batch), sink=self.name)

    async def recent(self, coin: str, interval: str, limit: int) -> list[Candle]:
        market = (coin, interval)
        rows = sorted((c for c in self.rows.values() if c.market == market), key=lambda c: c.open_time)
        return rows[-limit:] if limit > 0 else []

    async def open_times(self, coin: str, interval: str, start: int, end: int) -> list[int]:
        market = (coin, interval)
        return sorted(
            c.open_time for c in self.rows.values() if c.market == market and c.closed and start <= c.open_time <= end
        )


class PassThroughBuffer(Buffer):
    """Writes every candle to the sink (``settings.sink.use``) as it arrives; holds nothing.

    ``capacity``, when given, is exported as the buffer's capacity gauge (with depth 0), as a
    real buffer's would be.
    """

    def __init__(self, ctx: ComponentContext[Any], *, capacity: int | None = None) -> None:
        super().__init__(ctx)
        self.capacity = capacity

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        inbox = self.ctx.inbox
        if inbox is None:
            raise RuntimeError(f"{self.name}: a buffer runs with an inbox")
        if self.capacity is not None:
            metrics = self.ctx.telemetry.metrics
            metrics.gauge(names.BUFFER_CAPACITY, "capacity").set(self.capacity)
            metrics.gauge(names.BUFFER_DEPTH, "depth").set(0)
        sink = self.ctx.component(self.ctx.settings.sink.use)
        if not isinstance(sink, Sink):
            raise TypeError(f"{self.name}: {self.ctx.settings.sink.use!r} is not a sink")
        task_status.started()
        async for candle in inbox:
            await sink.write([candle])
