"""What the sink suite writes and how it takes a store away: sample candles, outages, a pipeline.

Free of pytest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from candlewick.config import Settings
from candlewick.exporting.formats import COLUMNS, CsvFormat
from candlewick.model import Candle, close_time
from candlewick.plugin import Component, ComponentSpec, Sink
from candlewick.plugins.memory_buffer.buffer import MemoryBuffer
from candlewick.plugins.memory_buffer.config import MemoryBufferConfig
from candlewick.plugins.memory_buffer.spool_dir import REJECTED
from candlewick.reading import CandleReader, candle_row
from candlewick.runtime.telemetry import Telemetry
from candlewick.testing.compliance._harness import build_component, running, single_errors

__all__ = [
    "T0", "StoreOutage", "bad_version", "check_reader", "check_rows", "kill_mid_write", "rejected_files", "sample",
    "write_through_buffer",
]  # fmt: skip

#: A minute boundary in November 2023.
T0 = 1_700_000_040_000


def sample(i: int = 0, *, trades: int = 1, closed: bool = False, coin: str = "BTC", interval: str = "1m") -> Candle:
    """The ``i``-th 1m candle of a market after :data:`T0`; prices and volume derive from ``i`` and ``trades``."""
    t = T0 + i * 60_000 if interval == "1m" else T0 - T0 % 86_400_000
    return Candle(
        coin=coin, interval=interval, open_time=t, close_time=close_time(interval, t),
        open=f"{30000 + i}.5", high=f"{30010 + i}.25", low=f"{29990 + i}.125", close=f"{30000 + i + trades}.0",
        volume=f"{trades}.00012340", trades=trades, closed=closed, origin="rest" if closed else "live",
    )  # fmt: skip


def bad_version(candle: Candle) -> Candle:
    """``candle`` with a volume that is no number: a row every store must refuse."""
    return replace(candle, volume="not-a-number")


class StoreOutage:
    """Takes the store under test away and brings it back; subclass it for your sink.

    While away, the sink's ``write`` must raise :class:`~candlewick.errors.SinkUnavailable`
    (the buffer then keeps the batch); once back, writes succeed again without a restart.
    """

    async def take_away(self) -> None:
        """Make the store refuse writes (a lock, a terminated connection, a stopped server)."""
        raise NotImplementedError("outage")

    async def bring_back(self) -> None:
        """Let the store take writes again."""
        raise NotImplementedError("outage")


def rejected_files(spool: Path) -> list[Path]:
    """Files the memory buffer set aside in the spool's ``rejected/`` folder."""
    folder = spool / REJECTED
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@asynccontextmanager
async def write_through_buffer(
    spec: ComponentSpec, options: dict[str, Any], spool: Path, *, start_timeout: float
) -> AsyncIterator[tuple[Sink, anyio.abc.ObjectSendStream[Candle]]]:
    """The sink behind our memory buffer, wired as the daemon wires them; yields (sink, inbox)."""
    telemetry = Telemetry()
    sink = build_component(spec, options, telemetry=telemetry)
    if not isinstance(sink, Sink):
        raise AssertionError(f"{spec.name!r} built a {type(sink).__name__}, not a candlewick.plugin.Sink")
    table: dict[str, Component] = {sink.name: sink}
    settings = Settings.model_validate({"sources": {}, "sink": {"use": sink.name}, "spool": {"dir": spool}})
    send, receive = anyio.create_memory_object_stream[Candle](1000)
    config = {"flush_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.2, "reject_after": 1}
    buffer = build_component(
        ComponentSpec("memory", "buffer", MemoryBuffer, config_model=MemoryBufferConfig), config,
        telemetry=telemetry, settings=settings, inbox=receive, lookup=lambda name: table[name], data_dir=spool.parent,
    )  # fmt: skip
    table[buffer.name] = buffer
    with send, receive, single_errors():
        async with running(sink, start_timeout=start_timeout), running(buffer, start_timeout=start_timeout):
            yield sink, send


async def check_reader(reader: CandleReader, written: list[Candle], start: int, end: int) -> None:
    """``reader`` returns ``written`` (BTC 1m with one open candle, and one ETH candle) as the contract says."""
    btc = sorted((c for c in written if c.coin == "BTC"), key=lambda c: c.open_time)
    want = [c for c in btc if start <= c.open_time < end]
    pages: list[tuple[Candle, ...]] = []
    cursor: int | None = start
    while cursor is not None:
        page = await reader.candles("BTC", "1m", cursor, end, 3)
        assert len(page.candles) <= 3, f"a page of limit 3 held {len(page.candles)} candles"
        pages.append(page.candles)
        cursor = page.next
        assert len(pages) <= len(want) + 1, "keyset paging does not end"
    got = [c for p in pages for c in p]
    assert got == want, (
        f"pages over [start, end) gave {[c.open_time for c in got]}, wrote {[c.open_time for c in want]}"
    )
    await check_rows(reader, want, start, end)
    closed = (await reader.candles("BTC", "1m", start, end + 60_000, 100, closed_only=True)).candles
    assert list(closed) == [c for c in btc if c.closed and c.open_time >= start], "closed_only must leave out open ones"
    assert await reader.newest("BTC", "1m", 3) == btc[-3:]
    markets = {(m.coin, m.interval): m for m in await reader.markets()}
    assert set(markets) == {("BTC", "1m"), ("ETH", "1m")}, f"markets() gave {sorted(markets)}"
    assert (markets["BTC", "1m"].first, markets["BTC", "1m"].last, markets["BTC", "1m"].count) == (
        btc[0].open_time, btc[-1].open_time, len(btc),
    )  # fmt: skip
    days = await reader.day_counts("BTC", "1m", btc[0].open_time, btc[-1].open_time + 1)
    assert sum(days.values()) == len(btc), f"day_counts gave {dict(days)} for {len(btc)} candles"
    try:
        await reader.candles("BTC", "1m", start, end, 0)
    except ValueError:
        pass
    else:
        raise AssertionError("candles(limit=0) must raise ValueError")


async def check_rows(reader: CandleReader, want: list[Candle], start: int, end: int) -> None:
    """``rows()`` gives plain tuples of the candles; ``copy_csv()`` writes nothing or the CSV encoder's bytes."""
    rows = list((await reader.rows("BTC", "1m", start, end, 100)).rows)
    assert rows == [candle_row(c) for c in want], f"rows() gave {rows}"
    for row in rows:
        types = tuple(type(v) for v in row)
        assert type(row) is tuple, f"rows() must give tuples, not {type(row).__name__}"
        assert types == (int, str, str, str, str, str, int, bool, bool), f"a row of {types}"
    chunks: list[bytes] = []

    async def write(chunk: bytes) -> None:
        chunks.append(chunk)

    for columns in (COLUMNS, ("closed", "time", "volume")):
        chunks.clear()
        copied = await reader.copy_csv("BTC", "1m", start, end, write, columns=columns)
        fmt = CsvFormat(columns)
        if copied is None:
            assert not chunks, "copy_csv() returned None but wrote"
            continue
        assert (copied, b"".join(chunks)) == (len(rows), fmt.header() + fmt.rows(rows)), "copy_csv() != CsvFormat"


async def kill_mid_write(plugin: str, name: str, options: dict[str, Any], size: int, *, after: int = 3) -> int:
    """Run a writer process, SIGKILL it once ``after`` batches are committed; the last batch it said it committed."""
    import json
    import subprocess
    import sys

    args = [sys.executable, "-m", "candlewick.testing.compliance._crash_child", plugin, name,
            json.dumps(options, default=str), str(size)]  # fmt: skip
    out = b""
    async with await anyio.open_process(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        with anyio.fail_after(60):
            async for chunk in proc.stdout:
                out += chunk
                if out.count(b"\n") > after:
                    break
            proc.kill()
            async for chunk in proc.stdout:  # what it printed before dying counts too
                out += chunk
            err = b"".join([chunk async for chunk in proc.stderr])
    done = [int(line) for line in out.decode().split() if line.isdigit()]
    if not done:
        raise AssertionError(f"the writer process committed nothing: {err.decode(errors='replace')[-2000:]}")
    return max(done)
