"""`/api/v1/markets` on a big store: the listing query, and a burst of requests with and without the cache.

Usage: python benchmarks/markets_listing.py [--rows 1000000] [--markets 200] [--burst 20]
       [--pg postgresql://postgres@127.0.0.1:5432]

Fills one SQLite file and one throwaway PostgreSQL database (dropped at the end) with the
same ``--rows`` candles spread over ``--markets`` markets, then measures in the same run:

- ``CandleReader.markets()`` (first, last and count of every market: a scan of the table),
  p50 over 5 calls;
- a burst of ``--burst`` concurrent listings as the web API serves them: each one reading the
  store (what every request cost before) against the API's shared 5-second listing
  (:class:`candlewick.web.cache.Recent`), wall time for the whole burst.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
from read_support import context, fill, scratch_database, synthetic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from candlewick.model import Candle
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.reader import SqliteReader
from candlewick.plugins.sqlite.sink import SqliteSink
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.plugins.timescaledb.reader import TimescaleReader
from candlewick.plugins.timescaledb.sink import TimescaleSink
from candlewick.reading import CandleReader, StoredMarket
from candlewick.web.cache import Recent
from candlewick.web.routes import MARKETS_TTL

START = 1_700_006_400_000


def candles(rows: int, markets: int) -> Iterator[Candle]:
    per = rows // markets
    return itertools.chain.from_iterable(synthetic(f"C{i:04d}", "1m", START, per) for i in range(markets))


async def burst(fetch: Callable[[], Awaitable[list[StoredMarket]]], size: int) -> float:
    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(size):
            tg.start_soon(fetch)
    return time.perf_counter() - start


async def measure(reader: CandleReader, burst_size: int) -> tuple[float, int, float, float]:
    """p50 of one listing, markets listed, burst without the cache, burst with it (seconds)."""
    times = []
    listed = 0
    for _ in range(5):
        t0 = time.perf_counter()
        listed = len(await reader.markets())
        times.append(time.perf_counter() - t0)
    uncached = await burst(reader.markets, burst_size)
    cached = await burst(Recent(reader.markets, MARKETS_TTL).get, burst_size)
    await reader.aclose()
    return statistics.median(times), listed, uncached, cached


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--markets", type=int, default=200)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    with scratch_database(args.pg) as dsn, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "candles.db"
        anyio.run(fill, SqliteSink(context("sqlite", SqliteConfig(path=db))), candles(args.rows, args.markets))
        anyio.run(
            fill, TimescaleSink(context("timescaledb", TimescaleConfig(dsn=dsn))), candles(args.rows, args.markets)
        )
        subprocess.run(["psql", dsn, "-qc", "VACUUM ANALYZE candles"], check=True)
        print(f"rows: {args.rows:,} in {args.markets} markets; burst of {args.burst} concurrent listings\n")
        print(
            f"{'store':<12} {'markets() p50':>14} {'listed':>7} {'burst, no cache':>16} {'burst, cached':>14} {'x':>7}"
        )
        for name, reader in (
            ("sqlite", SqliteReader(db)),
            ("timescaledb", TimescaleReader(TimescaleConfig(dsn=dsn))),
        ):
            one, listed, uncached, cached = anyio.run(measure, reader, args.burst, backend="asyncio")
            print(
                f"{name:<12} {one * 1000:>11.1f} ms {listed:>7} {uncached * 1000:>13.1f} ms"
                f" {cached * 1000:>11.1f} ms {uncached / cached:>6.1f}x"
            )


if __name__ == "__main__":
    main()
