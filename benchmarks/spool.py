"""Spool append and replay rates: the append-only segment log against an SQLite (WAL) spool.

For each fsync policy (``always``: every batch forced to disk; ``interval``: at most once a
second; ``never``: the OS decides) this appends batches of live-sized (100 candles) and
backfill-sized (5 000 candles) batches, then replays them (read, decode, remove). The
baseline in the same run is an SQLite WAL table of blobs with the matching ``synchronous``
level (FULL, NORMAL, OFF), the other format the spool could have used.

Usage: python benchmarks/spool.py [--seconds-per-case 2]
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio

from candlewick.model import Candle, close_time
from candlewick.plugins.memory_buffer import spool_format as fmt
from candlewick.plugins.memory_buffer.spool import Spool

POLICIES = {"always": "FULL", "interval": "NORMAL", "never": "OFF"}


def make_batch(size: int, k: int) -> list[Candle]:
    t0 = 1_700_000_040_000
    return [
        Candle(f"C{i % 100}", "1m", t0 + (k * size + i) * 60_000, close_time("1m", t0 + (k * size + i) * 60_000),
               "30123.5", "30150.25", "30100.125", "30140.0", f"{i * 0.137:.5f}", i + 1, True, "rest")
        for i in range(size)
    ]  # fmt: skip


class SqliteSpool:
    """The alternative: one row per batch in an SQLite WAL table."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        self.conn.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY, created INTEGER, data BLOB)")

    def append(self, batch: list[Candle]) -> None:
        self.conn.execute("INSERT INTO spool (created, data) VALUES (?, ?)", (0, fmt.encode_batch(batch)))

    def head(self) -> tuple[int, bytes] | None:
        row = self.conn.execute("SELECT id, data FROM spool ORDER BY id LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def remove(self, row_id: int) -> None:
        self.conn.execute("DELETE FROM spool WHERE id = ?", (row_id,))


async def log_case(directory: Path, policy: str, batch: list[Candle], count: int) -> tuple[float, float, int]:
    spool = Spool(directory, max_bytes=1 << 34, fsync=policy, fsync_interval=1.0)  # type: ignore[arg-type]
    await spool.open(time.monotonic)
    start = time.perf_counter()
    for _ in range(count):
        await spool.append(batch, created_ms=0, now=time.monotonic())
    await spool.sync(time.monotonic())
    appended = time.perf_counter() - start
    size = spool.nbytes
    start = time.perf_counter()
    n = 0
    while (entry := spool.head()) is not None:
        got = await spool.read(entry)
        assert not isinstance(got, str)
        n += len(got)
        await spool.remove(entry)
    replayed = time.perf_counter() - start
    await spool.close()
    assert n == count * len(batch)
    return appended, replayed, size


def _disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("spool.db*"))


async def sqlite_case(directory: Path, policy: str, batch: list[Candle], count: int) -> tuple[float, float, int]:
    """Same shape as the log spool: every append and every replay step is one worker-thread call."""
    spool = await anyio.to_thread.run_sync(SqliteSpool, directory / "spool.db", POLICIES[policy])
    start = time.perf_counter()
    for _ in range(count):
        await anyio.to_thread.run_sync(spool.append, batch)
    appended = time.perf_counter() - start
    size = await anyio.to_thread.run_sync(_disk_bytes, directory)
    start = time.perf_counter()
    n = 0
    while (head := await anyio.to_thread.run_sync(spool.head)) is not None:
        n += len(fmt.decode_batch(head[1]))
        await anyio.to_thread.run_sync(spool.remove, head[0])
    replayed = time.perf_counter() - start
    spool.conn.close()
    assert n == count * len(batch)
    return appended, replayed, size


async def main_async(counts: dict[int, int]) -> None:
    print(f"{'format':<14} {'fsync':<9} {'batch':>6} {'append batch/s':>14} {'append cand/s':>13} "
          f"{'x sqlite':>8} {'replay cand/s':>13} {'x sqlite':>8} {'bytes/candle':>12}")  # fmt: skip
    for policy in POLICIES:
        for size, count in counts.items():
            batch = make_batch(size, 0)
            results: dict[str, tuple[float, float, int]] = {}
            cases: dict[str, Callable[..., object]] = {"sqlite WAL": sqlite_case, "segment log": log_case}
            for label, case in cases.items():
                with tempfile.TemporaryDirectory() as tmp:
                    results[label] = await case(Path(tmp), policy, batch, count)  # type: ignore[misc]
            base_a, base_r, _ = results["sqlite WAL"]
            for label, (appended, replayed, nbytes) in results.items():
                candles = count * size
                print(f"{label:<14} {policy:<9} {size:>6} {count / appended:>14,.0f} {candles / appended:>13,.0f} "
                      f"{base_a / appended:>8.2f} {candles / replayed:>13,.0f} {base_r / replayed:>8.2f} "
                      f"{nbytes / candles:>12.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live-batches", type=int, default=300, help="100-candle batches per case")
    parser.add_argument("--backfill-batches", type=int, default=20, help="5000-candle batches per case")
    args = parser.parse_args()
    anyio.run(main_async, {100: args.live_batches, 5000: args.backfill_batches})


if __name__ == "__main__":
    main()
