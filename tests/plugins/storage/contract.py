"""The behaviour every sink must show, run against each real database.

A test module subclasses :class:`SinkContract` and provides two fixtures: ``new_sink`` (a
callable building a fresh, not yet running sink on the test database) and
``bump_schema`` (an async callable setting the stored schema version).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace

import anyio
import pytest

from candlewick.errors import SchemaTooNew, SinkUnavailable
from candlewick.model import Candle
from candlewick.plugin import Sink

from .helpers import T0, candle, start

NewSink = Callable[[], Sink]
BumpSchema = Callable[[int], Awaitable[None]]


@asynccontextmanager
async def running(sink: Sink) -> AsyncIterator[Sink]:
    """Run a sink until the block ends."""
    async with anyio.create_task_group() as tg:
        await start(tg, sink)
        yield sink
        tg.cancel_scope.cancel()


class SinkContract:
    """Upsert rules, reads, migrations and availability, identical for every sink."""

    async def test_open_updates_move_forward_only(self, new_sink: NewSink) -> None:
        """An open update with more trades replaces the row; a stale one (fewer trades) does not."""
        async with running(new_sink()) as sink:
            await sink.write([candle(0, trades=5)])
            await sink.write([candle(0, trades=9)])
            await sink.write([candle(0, trades=7)])
            assert await sink.recent("BTC", "1m", 10) == [candle(0, trades=9)]

    async def test_open_never_overwrites_closed(self, new_sink: NewSink) -> None:
        """Once closed, a row ignores open updates, even ones with more trades."""
        async with running(new_sink()) as sink:
            await sink.write([candle(0, trades=4, closed=True)])
            await sink.write([candle(0, trades=99)])
            await sink.write([candle(0, trades=3)])
            assert await sink.recent("BTC", "1m", 10) == [candle(0, trades=4, closed=True)]

    async def test_closed_replaces_open_and_better_closed_replaces_closed(self, new_sink: NewSink) -> None:
        """Closed beats open whatever the trades; between closed versions more trades win."""
        async with running(new_sink()) as sink:
            await sink.write([candle(0, trades=50)])
            await sink.write([candle(0, trades=40, closed=True)])
            assert await sink.recent("BTC", "1m", 1) == [candle(0, trades=40, closed=True)]
            await sink.write([candle(0, trades=45, closed=True)])
            await sink.write([candle(0, trades=41, closed=True)])
            assert await sink.recent("BTC", "1m", 1) == [candle(0, trades=45, closed=True)]

    async def test_volume_decides_exactly_and_ties_go_to_the_newest(self, new_sink: NewSink) -> None:
        """Same trades: more volume wins, compared as decimals (not text); equal rank: newest wins."""
        async with running(new_sink()) as sink:
            await sink.write([candle(0, trades=3, volume="9.99")])
            await sink.write([candle(0, trades=3, volume="10.5")])  # text order would refuse it
            await sink.write([candle(0, trades=3, volume="10.4999999999999999999")])
            assert (await sink.recent("BTC", "1m", 1))[0].volume == "10.5"
            await sink.write([candle(0, trades=3, volume="10.50", close="1.5")])
            [row] = await sink.recent("BTC", "1m", 1)
            assert (row.close, row.volume) == ("1.5", "10.50")

    async def test_derived_never_overwrites_the_exchanges_closed_row(self, new_sink: NewSink) -> None:
        """A derived version, closed or open, with more trades or not, leaves a native closed row alone."""
        native = candle(0, trades=4, closed=True)
        async with running(new_sink()) as sink:
            await sink.write([native])
            await sink.write([replace(candle(0, trades=9, closed=True), derived=True)])
            await sink.write([replace(candle(0, trades=99), derived=True)])
            assert await sink.recent("BTC", "1m", 10) == [native]

    async def test_native_closed_replaces_a_differing_derived_row(self, new_sink: NewSink) -> None:
        """Reconciliation: the exchange's closed candle replaces a derived one that differs, even
        with fewer trades; an equal one (numerically) leaves the row marked derived."""
        derived = replace(candle(0, trades=9, closed=True, volume="9.50"), derived=True)
        async with running(new_sink()) as sink:
            await sink.write([derived])
            await sink.write([replace(derived, derived=False, volume="9.5")])
            assert await sink.recent("BTC", "1m", 1) == [derived]
            native = candle(0, trades=8, closed=True)
            await sink.write([native])
            assert await sink.recent("BTC", "1m", 1) == [native]
            await sink.write([replace(native, derived=True, trades=20)])
            assert await sink.recent("BTC", "1m", 1) == [native]

    async def test_derived_rows_follow_the_usual_rule_among_themselves(self, new_sink: NewSink) -> None:
        """Derived versions move forward like native ones, and a derived close beats a native open row."""
        async with running(new_sink()) as sink:
            await sink.write([candle(0, trades=50)])
            closed = replace(candle(0, trades=40, closed=True), derived=True)
            await sink.write([closed])
            await sink.write([replace(candle(0, trades=60), derived=True)])
            assert await sink.recent("BTC", "1m", 1) == [closed]
            in_batch = [closed, candle(0, trades=7, closed=True), replace(closed, trades=41)]
            await sink.write(in_batch)
            assert await sink.recent("BTC", "1m", 1) == [candle(0, trades=7, closed=True)]

    async def test_one_batch_may_hold_many_versions_of_a_candle(self, new_sink: NewSink) -> None:
        """A batch with repeated keys stores the superseding version of each."""
        async with running(new_sink()) as sink:
            batch = [candle(0, trades=n) for n in range(1, 30)] + [
                candle(0, trades=2, closed=True),
                candle(0, trades=90),
            ]
            await sink.write(batch)
            assert await sink.recent("BTC", "1m", 5) == [candle(0, trades=2, closed=True)]

    async def test_decimals_are_stored_exactly_as_sent(self, new_sink: NewSink) -> None:
        """Prices and volume come back as the same strings, trailing zeros and all."""
        c = Candle(
            "kPEPE", "1h", T0 - T0 % 3_600_000, T0 - T0 % 3_600_000 + 3_599_999,
            "0.000012340", "123456789.123456789", "0.00000001", "1.10", "98765432109876.5432100", 123456, True, "rest",
        )  # fmt: skip
        async with running(new_sink()) as sink:
            await sink.write([c])
            assert await sink.recent("kPEPE", "1h", 1) == [c]

    async def test_recent_is_newest_n_oldest_first_per_market(self, new_sink: NewSink) -> None:
        """recent() returns the last ``limit`` candles of one market in time order."""
        async with running(new_sink()) as sink:
            await sink.write([candle(i, closed=i < 9) for i in range(10)] + [candle(0, coin="ETH")])
            got = await sink.recent("BTC", "1m", 3)
            assert [c.open_time for c in got] == [T0 + i * 60_000 for i in (7, 8, 9)]
            assert [c.closed for c in got] == [True, True, False]
            assert await sink.recent("SOL", "1m", 3) == []

    async def test_open_times_lists_closed_candles_in_range(self, new_sink: NewSink) -> None:
        """open_times() gives closed candles' open times within [start, end], inclusive, ascending."""
        async with running(new_sink()) as sink:
            await sink.write([candle(i, closed=i != 4) for i in range(8)] + [candle(2, coin="ETH", closed=True)])
            got = await sink.open_times("BTC", "1m", T0 + 60_000, T0 + 5 * 60_000)
            assert got == [T0 + i * 60_000 for i in (1, 2, 3, 5)]

    async def test_migrations_are_idempotent(self, new_sink: NewSink) -> None:
        """Starting again on a migrated database changes nothing and keeps the data."""
        async with running(new_sink()) as sink:
            await sink.write([candle(0, closed=True)])
        async with running(new_sink()) as sink:
            assert await sink.recent("BTC", "1m", 5) == [candle(0, closed=True)]

    async def test_newer_schema_is_refused(self, new_sink: NewSink, bump_schema: BumpSchema) -> None:
        """A database migrated by a newer candlewick makes run() raise SchemaTooNew, not retry."""
        async with running(new_sink()):
            pass
        await bump_schema(99)
        sink = new_sink()
        with pytest.raises(SchemaTooNew, match="schema version 99") as info:
            await sink.run()
        assert info.value.retryable is False

    async def test_write_while_not_running_raises_sink_unavailable(self, new_sink: NewSink) -> None:
        """Before run() connected, write() says SinkUnavailable so the buffer keeps the batch."""
        sink = new_sink()
        with pytest.raises(SinkUnavailable):
            await sink.write([candle(0)])

    async def test_writes_are_counted(self, new_sink: NewSink) -> None:
        """Rows written and the last write latency are published under the shared names."""
        from candlewick.runtime import names

        async with running(new_sink()) as sink:
            await sink.write([candle(i) for i in range(7)] + [candle(0, trades=3)])
            metrics = sink.ctx.telemetry.metrics
            assert metrics.value(names.ROWS_WRITTEN, sink=sink.name) == 7
            assert metrics.value(names.WRITE_LATENCY, sink=sink.name) > 0
