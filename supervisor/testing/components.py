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

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus

from candlewick.errors import SinkUnavailable
from candlewick.model import DAY_MS, Candle
from candlewick.plugin import Buffer, ComponentContext, Sink
from candlewick.reading import CandleReader, RowPage, StoredMarket, candle_row, check_page_args
from candlewick.runtime import names

__all__ = ["MemoryReader", "MemorySink", "PassThroughBuffer"]

#: A stored row's key: ``(coin, interval, open_time)``.
RowKey = tuple[str, str, int]


class MemorySink(Sink):
    """Rows in a dict under the one never-backwards rule; counts ``candlewick_rows_written_total``."""

    def __init__(self, ctx: ComponentContext[Any]) -> None:
        super().__init__(ctx)
        #: Every stored candle by ``(coin, interval, open_time)``.
        self.rows: dict[RowKey, Candle] = {}
        #: True once ``run`` has ended: its store is "down" and reads raise ``SinkUnavailable``.
        self.stopped = False
        self._reads = MemoryReader(self)
        self._written = ctx.telemetry.metrics.counter(names.ROWS_WRITTEN, "rows", ("sink",))

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self.stopped = False
        try:
            task_status.started()
            await anyio.sleep_forever()
        finally:
            self.stopped = True

    async def write(self, batch: Sequence[Candle]) -> None:
        """Upsert ``batch``: a candle replaces the stored one only if it supersedes it."""
        rows = self.rows
        for candle in batch:
            old = rows.get(candle.key)
            if old is None or candle.supersedes(old):
                rows[candle.key] = candle
        self._written.inc(len(batch), sink=self.name)

    def reader(self) -> MemoryReader:
        return self._reads


class MemoryReader(CandleReader):
    """The read side of a :class:`MemorySink`: its rows, or ``SinkUnavailable`` once the sink has stopped."""

    def __init__(self, sink: MemorySink) -> None:
        self.sink = sink

    def _market(self, coin: str, interval: str) -> list[Candle]:
        if self.sink.stopped:
            raise SinkUnavailable(f"{self.sink.name}: the memory sink has stopped")
        market = (coin, interval)
        return sorted((c for c in self.sink.rows.values() if c.market == market), key=lambda c: c.open_time)

    async def rows(
        self, coin: str, interval: str, start: int, end: int, limit: int, *, closed_only: bool = False
    ) -> RowPage:
        check_page_args(start, end, limit)
        found = [
            c for c in self._market(coin, interval) if start <= c.open_time < end and (c.closed or not closed_only)
        ]
        return RowPage([candle_row(c) for c in found[:limit]], found[limit].open_time if len(found) > limit else None)

    async def newest(self, coin: str, interval: str, limit: int) -> list[Candle]:
        rows = self._market(coin, interval)
        return rows[-limit:] if limit > 0 else []

    async def markets(self) -> list[StoredMarket]:
        keys = sorted({c.market for c in self.sink.rows.values()})
        out = []
        for coin, interval in keys:
            times = [c.open_time for c in self._market(coin, interval)]
            out.append(StoredMarket(coin, interval, times[0], times[-1], len(times)))
        return out

    async def day_counts(self, coin: str, interval: str, start: int, end: int) -> Mapping[int, int]:
        days = Counter(
            c.open_time - c.open_time % DAY_MS for c in self._market(coin, interval) if start <= c.open_time < end
        )
        return dict(sorted(days.items()))

    async def open_times(self, coin: str, interval: str, start: int, end: int) -> list[int]:
        return [c.open_time for c in self._market(coin, interval) if c.closed and start <= c.open_time <= end]

    def target(self) -> str:
        return self.sink.target()

    async def aclose(self) -> None:
        return None


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
