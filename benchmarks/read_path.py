"""The read path: `candlewick export` rows/s and a 5000-row reader page, against the databases' own tools.

Usage: python benchmarks/read_path.py [--rows 300000] [--runs 50] [--pg postgresql://postgres@127.0.0.1:5432]

Fills one SQLite file and one throwaway PostgreSQL database (on the given server; dropped at
the end) with the same 1m candles of one market, then measures in the same run:

- export: `candlewick export --format csv` (a subprocess, start-up included) against the
  `sqlite3` CLI (`-csv`) and against `COPY (SELECT ...) TO STDOUT` through psql and asyncpg,
  all writing the same columns of the whole market to a file; rows/s and the ratio to the
  database's own tool; and the command's start-up alone (an empty range);
- page: `CandleReader.rows(..., limit=5000)` (the page the API and the exports encode) and
  `CandleReader.candles` (the same page as `Candle` objects) against the same SELECT run
  directly (sqlite3 in a worker thread; asyncpg on a pool), p50/p99 over ``--runs``, and the
  ratio of the p50s.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import asyncpg
from read_support import context, fill, scratch_database, synthetic

from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.reader import PAGE as SQLITE_PAGE
from candlewick.plugins.sqlite.reader import SqliteReader
from candlewick.plugins.sqlite.sink import SqliteSink
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.plugins.timescaledb.reader import PAGE as PG_PAGE
from candlewick.plugins.timescaledb.reader import TimescaleReader
from candlewick.plugins.timescaledb.sink import TimescaleSink
from candlewick.reading import FOREVER

START = 1_700_006_400_000
COLS_SQLITE = "\"time\", open, high, low, close, volume, trades, CASE closed WHEN 1 THEN 'true' ELSE 'false' END"
COLS_PG = '(extract(epoch FROM "time") * 1000)::bigint, open, high, low, close, volume, trades, closed'
WHERE = "coin = 'BTC' AND \"interval\" = '1m' ORDER BY \"time\""


def timed_run(cmd: list[str], out: Path) -> float:
    with out.open("wb") as f:
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


async def timed_async(func: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await func()
        out.append(time.perf_counter() - start)
    return out


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def pages(db: Path, dsn: str, rows: int, runs: int) -> list[tuple[str, list[float]]]:
    mid = START + max(0, rows // 2 - 5000) * 60_000  # a full page from the middle of the market
    sqlite_reader = SqliteReader(db)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    limiter = anyio.CapacityLimiter(1)

    def direct_sqlite() -> list[object]:
        return conn.execute(SQLITE_PAGE, ("BTC", "1m", mid, FOREVER, 5001)).fetchall()

    pg_reader = TimescaleReader(TimescaleConfig(dsn=dsn))
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    out = []
    try:
        for label, func in (
            ("SQLite direct SELECT", lambda: anyio.to_thread.run_sync(direct_sqlite, limiter=limiter)),
            ("SQLite reader page (rows)", lambda: sqlite_reader.rows("BTC", "1m", mid, FOREVER, 5000)),
            ("SQLite reader page (Candle objects)", lambda: sqlite_reader.candles("BTC", "1m", mid, FOREVER, 5000)),
            ("PostgreSQL direct SELECT", lambda: pool.fetch(PG_PAGE, "BTC", "1m", mid, FOREVER, 5001)),
            ("PostgreSQL reader page (rows)", lambda: pg_reader.rows("BTC", "1m", mid, FOREVER, 5000)),
            ("PostgreSQL reader page (Candle objects)", lambda: pg_reader.candles("BTC", "1m", mid, FOREVER, 5000)),
        ):
            await timed_async(func, 3)  # warm up
            out.append((label, await timed_async(func, runs)))
    finally:
        await sqlite_reader.aclose()
        await pg_reader.aclose()
        await pool.close()
        conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    with scratch_database(args.pg) as dsn, tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp), dsn, args.rows, args.runs)


def run(tmp: Path, dsn: str, rows: int, runs: int) -> None:
    db = tmp / "candles.db"
    anyio.run(fill, SqliteSink(context("sqlite", SqliteConfig(path=db))), synthetic("BTC", "1m", START, rows))
    pg_sink = TimescaleSink(context("timescaledb", TimescaleConfig(dsn=dsn)))
    anyio.run(fill, pg_sink, synthetic("BTC", "1m", START, rows))
    subprocess.run(["psql", dsn, "-qc", "VACUUM ANALYZE candles"], check=True)
    configs = {}
    for name, body in (
        ("sqlite", f'[sink.sqlite]\npath = "{db}"\n'),
        ("timescaledb", f'[sink.timescaledb]\ndsn = "{dsn}"\n'),
    ):
        configs[name] = tmp / f"{name}.toml"
        configs[name].write_text(f'[sink]\nuse = "{name}"\n' + body)
    export = [sys.executable, "-m", "candlewick", "export", "--coin", "BTC", "--interval", "1m", "-c"]
    copy = f"COPY (SELECT {COLS_PG} FROM candles WHERE {WHERE}) TO STDOUT WITH (FORMAT csv, HEADER)"
    cases: list[tuple[str, str, Callable[[Path], float]]] = [
        ("sqlite", "sqlite3 CLI -csv", lambda o: timed_run(
            ["sqlite3", "-csv", "-header", str(db), f"SELECT {COLS_SQLITE} FROM candles WHERE {WHERE}"], o)),
        ("sqlite", "candlewick export csv", lambda o: timed_run([*export, str(configs["sqlite"])], o)),
        ("timescaledb", "psql COPY TO STDOUT", lambda o: timed_run(["psql", dsn, "-qc", copy], o)),
        ("timescaledb", "asyncpg copy_from_query", lambda o: asyncio.run(copy_asyncpg(dsn, copy, o))),
        ("timescaledb", "candlewick export csv", lambda o: timed_run([*export, str(configs["timescaledb"])], o)),
    ]  # fmt: skip
    print(f"rows per market: {rows:,}\n")
    print(f"{'export (whole market to a file)':<44} {'rows':>8} {'seconds':>8} {'rows/s':>10} {'x tool':>7}")
    base: dict[str, float] = {}
    for store, label, case in cases:
        out = tmp / "out.csv"
        seconds = min(case(out) for _ in range(3))
        count = lines(out) - 1
        rate = count / seconds
        base.setdefault(store, rate)
        print(f"{store + ': ' + label:<44} {count:>8,} {seconds:>8.2f} {rate:>10,.0f} {rate / base[store]:>7.2f}")
    empty = [*export, str(configs["sqlite"]), "--end", str(START)]  # no rows: the command's start-up alone
    startup = min(timed_run(empty, tmp / "empty.csv") for _ in range(3))
    print(f"{'of which start-up (candlewick export, 0 rows)':<44} {'':>8} {startup:>8.2f}")
    print(f"\n{'page of 5000 rows':<44} {'p50 ms':>8} {'p99 ms':>8} {'x direct':>9}")
    results = anyio.run(pages, db, dsn, rows, runs, backend="asyncio")
    direct: list[float] = []
    for label, samples in results:
        if "direct" in label:
            direct = samples
        ratio = statistics.median(samples) / statistics.median(direct)
        print(f"{label:<44} {pct(samples, 0.5) * 1000:>8.2f} {pct(samples, 0.99) * 1000:>8.2f} {ratio:>9.2f}")


async def copy_asyncpg(dsn: str, copy: str, out: Path) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        query = copy.removeprefix("COPY (").split(") TO STDOUT")[0]
        with out.open("wb") as f:

            async def write(data: bytes) -> None:
                f.write(data)

            start = time.perf_counter()
            await conn.copy_from_query(query, output=write, format="csv", header=True)
            return time.perf_counter() - start
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
