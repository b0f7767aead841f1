"""Upsert throughput into PostgreSQL for each write path, at batch sizes 100, 1 000 and 10 000.

Paths: executemany (baseline), ``INSERT ... SELECT FROM unnest(...)``, COPY into a staging table
then ``INSERT ... ON CONFLICT DO UPDATE``, and plain COPY into the bare table (no conflict
handling: the ceiling). "new" inserts fresh rows (backfill); "update" rewrites existing rows
with newer versions (replays, live updates). Targets: >= 2x executemany for backfill batches,
>= 60% of plain COPY. "staging COPY" (the rows as the sink sends them, COPYed into the
unindexed staging table and nothing else) shows what the transfer alone costs: plain COPY has
to encode every decimal as a binary numeric on the client, the sink's paths send text.

Usage: python benchmarks/sink_write_paths.py [--rows N] [--dsn postgresql://postgres@127.0.0.1:5432]
Creates and drops a throwaway database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

import asyncpg

from candlewick.model import close_time
from candlewick.plugins._storage.rows import Row
from candlewick.plugins.timescaledb import schema, write_paths

Path = Callable[[Any, Sequence[Row]], Awaitable[None]]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def make_rows(n: int, trades: int) -> list[Row]:
    """``n`` one-minute candles over 20 markets, with realistic decimal strings."""
    t0 = 1_600_000_020_000 - 1_600_000_020_000 % 60_000
    out = []
    for i in range(n):
        minute, market = divmod(i, 20)
        t = t0 + minute * 60_000
        assert close_time("1m", t) == t + 59_999
        p = 30_000 + (i % 997) * 0.5
        out.append(Row(t, f"C{market}", "1m", f"{p:.1f}", f"{p + 12.5:.1f}", f"{p - 7.25:.2f}", f"{p + 3:.1f}",
                       f"{(i % 113) * 1.37 + trades:.5f}", trades, True))  # fmt: skip
    return out


async def staging_copy(conn: Any, rows: Sequence[Row]) -> None:
    """COPY the rows as the sink sends them (text decimals) into the staging table, nothing else."""
    async with conn.transaction():
        await conn.copy_records_to_table(write_paths.STAGING_TABLE, records=rows)


async def plain_copy(conn: Any, records: Sequence[tuple[object, ...]]) -> None:
    await conn.copy_records_to_table(
        "candles",
        records=records,
        columns=[
            "time",
            "coin",
            "interval",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "trades",
            "closed",
            "updated_at",
        ],
    )


def bare_records(rows: Sequence[Row]) -> list[tuple[object, ...]]:
    now = dt.datetime.now(dt.UTC)
    return [
        (EPOCH + dt.timedelta(milliseconds=r.time), r.coin, r.interval, Decimal(r.open), Decimal(r.high),
         Decimal(r.low), Decimal(r.close), Decimal(r.volume), r.trades, r.closed, now)
        for r in rows
    ]  # fmt: skip


async def timed(conn: Any, fn: Callable[[Any, Sequence[Any]], Awaitable[None]], batches: list[Sequence[Any]]) -> float:
    start = time.perf_counter()
    for batch in batches:
        await fn(conn, batch)
    return time.perf_counter() - start


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[k : k + size] for k in range(0, len(items), size)]


async def run(dsn: str, total: int, repeat: int, sizes: Sequence[int]) -> None:
    name = f"candlewick_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{dsn}/postgres")
    await admin.execute(f"CREATE DATABASE {name}")
    try:
        conn = await asyncpg.connect(f"{dsn}/{name}")
        try:
            await schema.migrate(conn, database=name)
            await write_paths.create_staging(conn)
            await measure(conn, total, repeat, sizes)
        finally:
            await conn.close()
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


async def measure(conn: Any, total: int, repeat: int, sizes: Sequence[int]) -> None:
    fresh, newer = make_rows(total, 5), make_rows(total, 9)
    paths: dict[str, Path] = {
        "executemany": write_paths.upsert_executemany,
        "unnest": write_paths.upsert_unnest,
        "copy+upsert": write_paths.upsert_copy,
    }
    print(f"{total} rows per measurement, best of {repeat}; rows/s (x executemany, % of plain COPY)")
    print(
        f"{'batch':>6} {'path':<13} {'new rows/s':>11} {'x exec':>7} {'% COPY':>7} {'update rows/s':>14} {'x exec':>7}"
    )
    for size in sizes:
        best: dict[str, list[float]] = {
            label: [float("inf"), float("inf")] for label in [*paths, "plain COPY", "staging COPY"]
        }
        records = bare_records(fresh)
        for _ in range(repeat):  # rounds interleave the paths, so background load hits them alike
            for label, fn in paths.items():
                await conn.execute("TRUNCATE candles")
                best[label][0] = min(best[label][0], await timed(conn, fn, chunks(fresh, size)))
                best[label][1] = min(best[label][1], await timed(conn, fn, chunks(newer, size)))
            await conn.execute("TRUNCATE candles")
            best["plain COPY"][0] = min(best["plain COPY"][0], await timed(conn, plain_copy, chunks(records, size)))
            best["staging COPY"][0] = min(best["staging COPY"][0], await timed(conn, staging_copy, chunks(fresh, size)))
        ceiling = total / best["plain COPY"][0]
        base_new, base_upd = (total / t for t in best["executemany"])
        for label in paths:
            new, upd = (total / t for t in best[label])
            print(f"{size:>6} {label:<13} {new:>11,.0f} {new / base_new:>7.2f} {100 * new / ceiling:>6.0f}% "
                  f"{upd:>14,.0f} {upd / base_upd:>7.2f}")  # fmt: skip
        for label in ("plain COPY", "staging COPY"):
            rate = total / best[label][0]
            print(f"{size:>6} {label:<13} {rate:>11,.0f} {rate / base_new:>7.2f} {100 * rate / ceiling:>6.0f}% "
                  f"{'-':>14} {'-':>7}")  # fmt: skip
    await conn.execute("TRUNCATE candles")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated batch sizes")
    args = parser.parse_args()
    asyncio.run(run(args.dsn, args.rows, args.repeat, [int(x) for x in args.sizes.split(",")]))


if __name__ == "__main__":
    main()
