"""The read side every sink must show (:class:`candlewick.reading.CandleReader`), run against each real store.

A test module subclasses :class:`ReaderContract` and provides ``new_sink`` (a callable building
a fresh, not yet running sink on the test store) and ``ledger_dir`` (where a gap-repair ledger
may be written).
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from candlewick.errors import SinkUnavailable
from candlewick.exporting.formats import CsvFormat
from candlewick.exporting.run import Request, export_bytes
from candlewick.gaps.ledger import MarketCoverage
from candlewick.gaps.store import Store
from candlewick.model import DAY_MS
from candlewick.plugin import Sink
from candlewick.readers import FOREVER, read_coverage
from candlewick.reading import CandlePage, StoredMarket, candle_row, candles_of

from .contract import NewSink, running
from .helpers import T0, candle

#: The first UTC midnight after T0: candle 106 of the helpers' 1m market opens there.
MIDNIGHT = T0 - T0 % DAY_MS + DAY_MS
AT_MIDNIGHT = (MIDNIGHT - T0) // 60_000


def t(i: int) -> int:
    return T0 + i * 60_000


async def fill(sink: Sink, n: int, *, open_every: int = 0) -> None:
    """Candles 0..n-1 of BTC 1m, closed except every ``open_every``-th."""
    await sink.write([candle(i, closed=not (open_every and i % open_every == 0), trades=i + 1) for i in range(n)])


class ReaderContract:
    """Keyset pages, newest, markets, day counts, coverage, and reading beside writes."""

    async def test_pages_walk_a_range_by_keyset_across_page_boundaries(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, 12)
            reader = sink.reader()
            first = await reader.candles("BTC", "1m", t(0), t(12), 5)
            assert [c.open_time for c in first.candles] == [t(i) for i in range(5)]
            assert first.next == t(5)
            second = await reader.candles("BTC", "1m", first.next, t(12), 5)
            assert [c.open_time for c in second.candles] == [t(i) for i in range(5, 10)]
            last = await reader.candles("BTC", "1m", t(10), t(12), 5)
            assert ([c.open_time for c in last.candles], last.next) == ([t(10), t(11)], None)
            exact = await reader.candles("BTC", "1m", t(0), t(5), 5)  # exactly one page: no cursor
            assert (len(exact.candles), exact.next) == (5, None)
            streamed = [c async for page in reader.stream("BTC", "1m", t(1), t(11), page_size=3) for c in page]
            assert [c.open_time for c in streamed] == [t(i) for i in range(1, 11)]  # [start, end): end left out

    async def test_pages_return_candles_exactly_as_written(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            written = [candle(0, closed=True, volume="0.00012340", close="30001.10"), candle(1, trades=3)]
            await sink.write(written)
            page = await sink.reader().candles("BTC", "1m", 0, FOREVER, 10)
            assert page == CandlePage(tuple(written), None)
            assert page.candles[0].volume == "0.00012340"

    async def test_derived_rows_say_so_and_the_default_csv_leaves_the_flag_out(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            folded = replace(candle(0, closed=True), derived=True)
            await sink.write([folded, candle(1, closed=True)])
            reader = sink.reader()
            page = await reader.candles("BTC", "1m", 0, FOREVER, 10)
            assert [c.derived for c in page.candles] == [True, False]
            assert [c.derived for c in await reader.newest("BTC", "1m", 10)] == [True, False]
            rows = (await reader.rows("BTC", "1m", 0, FOREVER, 10)).rows
            assert [r[8] for r in rows] == [True, False]
            assert CsvFormat().rows(rows).decode().splitlines()[0].endswith(",1,true")
            flagged = CsvFormat(("time", "derived")).rows(rows).decode().splitlines()
            assert flagged == [f"{t(0)},true", f"{t(1)},false"]

    async def test_rows_are_plain_tuples_and_candles_are_built_from_the_same_page(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, 7, open_every=3)  # 0, 3, 6 open
            reader = sink.reader()
            page = await reader.rows("BTC", "1m", t(1), t(7), 4)
            assert page.next == t(5)
            assert [(r[0], r[7]) for r in page.rows] == [(t(1), True), (t(2), True), (t(3), False), (t(4), True)]
            assert all(type(r) is tuple and type(r[7]) is bool for r in page.rows)
            candles = await reader.candles("BTC", "1m", t(1), t(7), 4)
            assert candles == CandlePage(candles_of("BTC", "1m", page.rows), t(5))
            assert [candle_row(c) for c in candles.candles] == list(page.rows)
            streamed = [r async for rows in reader.stream_rows("BTC", "1m", t(0), t(7), page_size=2) for r in rows]
            assert [r[0] for r in streamed] == [t(i) for i in range(7)]

    async def test_the_csv_export_is_the_encoders_bytes_however_the_store_writes_it(self, new_sink: NewSink) -> None:
        """``export_bytes`` takes the store's own CSV (``copy_csv``) when it has one: the bytes of encoding rows."""
        async with running(new_sink()) as sink:
            await fill(sink, 9, open_every=4)
            await sink.write([candle(9, closed=True, volume="0.00012340", close="30001.10")])
            reader = sink.reader()
            for closed_only in (False, True):
                rows = [r async for page in reader.stream_rows("BTC", "1m", t(1), t(10), closed_only=closed_only)
                        for r in page]  # fmt: skip
                out = io.BytesIO()
                request = Request("BTC", "1m", t(1), t(10), closed_only=closed_only)
                assert await export_bytes(reader, request, "csv", out) == len(rows)
                assert out.getvalue() == CsvFormat().header() + CsvFormat().rows(rows)
                assert out.getvalue().endswith(b",30001.10,0.00012340,1,true\n")
            empty = io.BytesIO()
            assert await export_bytes(reader, Request("ETH", "1m", 0, FOREVER), "csv", empty) == 0
            assert empty.getvalue() == b"time,open,high,low,close,volume,trades,closed\n"

    async def test_a_csv_consumer_that_fails_gets_its_own_error_back(self, new_sink: NewSink) -> None:
        """A closed pipe while the store writes CSV is the consumer's error, not the store's."""
        async with running(new_sink()) as sink:
            await fill(sink, 5)
            reader = sink.reader()

            async def broken(chunk: bytes) -> None:
                raise BrokenPipeError("the reader went away")

            try:
                copied = await reader.copy_csv("BTC", "1m", 0, FOREVER, broken)
            except BrokenPipeError:
                copied = -1
            assert copied in (None, -1)  # None: this store has no CSV of its own, and wrote nothing
            assert len((await reader.rows("BTC", "1m", 0, FOREVER, 10)).rows) == 5  # the reader still reads

    async def test_closed_only_leaves_out_open_candles_and_pages_past_them(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, 10, open_every=3)  # 0, 3, 6, 9 open
            reader = sink.reader()
            page = await reader.candles("BTC", "1m", t(0), t(10), 3, closed_only=True)
            assert [c.open_time for c in page.candles] == [t(1), t(2), t(4)]
            assert page.next == t(5)
            rest = await reader.candles("BTC", "1m", page.next, t(10), 3, closed_only=True)
            assert ([c.open_time for c in rest.candles], rest.next) == ([t(5), t(7), t(8)], None)
            assert all(c.closed for c in rest.candles)

    async def test_empty_ranges_and_unknown_markets_give_empty_pages(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, 3)
            reader = sink.reader()
            assert await reader.candles("BTC", "1m", t(1), t(1), 10) == CandlePage((), None)
            assert await reader.candles("BTC", "1m", t(5), t(9), 10) == CandlePage((), None)
            assert await reader.candles("ETH", "1m", 0, FOREVER, 10) == CandlePage((), None)
            assert await reader.candles("BTC", "5m", 0, FOREVER, 10) == CandlePage((), None)
            assert [p async for p in reader.stream("BTC", "1m", t(3), t(9))] == []
            assert await reader.newest("ETH", "1m", 5) == []
            assert await reader.day_counts("ETH", "1m", 0, FOREVER) == {}
            with pytest.raises(ValueError, match="limit"):
                await reader.candles("BTC", "1m", 0, FOREVER, 0)

    async def test_newest_is_oldest_first_open_candle_included(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, 6)
            await sink.write([candle(6, trades=2)])
            newest = await sink.reader().newest("BTC", "1m", 3)
            assert [(c.open_time, c.closed) for c in newest] == [(t(4), True), (t(5), True), (t(6), False)]
            assert await sink.recent("BTC", "1m", 3) == newest  # the Sink shortcut is the same path

    async def test_markets_list_first_last_and_count(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, 4)
            await sink.write([candle(0, coin="ETH", closed=True), candle(0, interval="1h", closed=True)])
            assert await sink.reader().markets() == [
                StoredMarket("BTC", "1h", T0, T0, 1),
                StoredMarket("BTC", "1m", t(0), t(3), 4),
                StoredMarket("ETH", "1m", T0, T0, 1),
            ]

    async def test_day_counts_split_at_utc_midnight(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, AT_MIDNIGHT + 3)
            counts = await sink.reader().day_counts("BTC", "1m", 0, FOREVER)
            assert dict(counts) == {MIDNIGHT - DAY_MS: AT_MIDNIGHT, MIDNIGHT: 3}
            assert dict(await sink.reader().day_counts("BTC", "1m", t(1), MIDNIGHT + 60_000)) == {
                MIDNIGHT - DAY_MS: AT_MIDNIGHT - 1, MIDNIGHT: 1,
            }  # fmt: skip

    async def test_open_times_are_closed_candles_in_an_inclusive_range(self, new_sink: NewSink) -> None:
        async with running(new_sink()) as sink:
            await fill(sink, 8, open_every=4)  # 0 and 4 open
            assert await sink.open_times("BTC", "1m", t(1), t(6)) == [t(1), t(2), t(3), t(5), t(6)]

    async def test_coverage_counts_stored_expected_and_the_ledgers_losses(
        self, new_sink: NewSink, ledger_dir: Path
    ) -> None:
        """A day with a hole partly lost for good: expected, stored, lost and missing per UTC day."""
        async with running(new_sink()) as sink:
            day = MIDNIGHT
            keep = [i for i in range(AT_MIDNIGHT, AT_MIDNIGHT + 60) if not 10 <= i - AT_MIDNIGHT < 20]
            await sink.write([candle(i, closed=True) for i in keep])
            store = Store(ledger_dir / "ledger.sqlite")
            store.open()
            store.save_market("BTC", "1m", MarketCoverage(lost=[(day + 10 * 60_000, day + 14 * 60_000)]))
            store.close()
            now = day + 60 * 60_000 - 1  # the 60th candle just opened
            days = await read_coverage(sink.reader(), "BTC", "1m", now, ledger=ledger_dir / "ledger.sqlite")
            assert [(d.day, d.expected, d.stored, d.lost, d.missing, d.complete) for d in days] == [
                (day, 60, 50, 5, 5, False)
            ]
            none = await read_coverage(sink.reader(), "ETH", "1m", now)
            assert none == []

    async def test_reads_go_on_beside_writes(self, new_sink: NewSink) -> None:
        """Pages read while batches are written are always whole candles in order, never an error."""
        async with running(new_sink()) as sink:
            reader = sink.reader()
            seen: list[int] = []

            async def write() -> None:
                for batch in range(20):
                    await sink.write([candle(batch * 10 + i, closed=True) for i in range(10)])
                    await anyio.sleep(0)

            async def read() -> None:
                for _ in range(20):
                    page = await reader.candles("BTC", "1m", 0, FOREVER, 1000)
                    times = [c.open_time for c in page.candles]
                    assert times == sorted(times)
                    seen.append(len(times))
                    await anyio.sleep(0)

            async with anyio.create_task_group() as tg:
                tg.start_soon(write)
                tg.start_soon(read)
            assert len((await reader.candles("BTC", "1m", 0, FOREVER, 1000)).candles) == 200
            assert seen == sorted(seen)

    async def test_reads_keep_working_after_the_writer_stops(self, new_sink: NewSink) -> None:
        sink = new_sink()
        async with running(sink):
            await fill(sink, 3)
        with pytest.raises(SinkUnavailable):
            await sink.write([candle(3)])  # the writer is gone...
        assert [c.open_time for c in await sink.reader().newest("BTC", "1m", 5)] == [t(0), t(1), t(2)]  # ...reads go on
        await sink.reader().aclose()
