"""Live path: 1 000 frames/s over 100 markets through the memory buffer into a sink.

Reports rows written per frame (the coalescing ratio) and the latency from a frame being
received to its row being committed (p50/p99; a frame superseded within its window counts as
committed when the row holding its successor is). Target: p99 <= flush_interval + 100 ms.
Baseline in the same run: every frame written on its own, without the buffer.

Usage: python benchmarks/live_path.py [--seconds 10] [--sink sqlite|timescaledb|both]
"""

from __future__ import annotations

import argparse
import collections
import logging
import math
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import asyncpg

from candlewick.config import Settings
from candlewick.model import Candle, close_time
from candlewick.plugin import CandleOutlet, ComponentContext, Sink
from candlewick.plugins.memory_buffer.buffer import MemoryBuffer
from candlewick.plugins.memory_buffer.config import MemoryBufferConfig
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.sink import SqliteSink
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.plugins.timescaledb.sink import TimescaleSink
from candlewick.reading import CandleReader
from candlewick.runtime.telemetry import Telemetry

RATE = 1000
MARKETS = 100
TICK = 0.01
MINUTE = 5.0  # seconds of benchmark time per candle: each market closes a candle this often


CASES: tuple[tuple[str, float | None], ...] = (
    ("direct, 1 row per write", None),
    ("buffer flush 1.0 s", 1.0),
    ("buffer flush 0.25 s", 0.25),
)


class Recorder:
    """Frame send times by key; a committed row settles every frame it supersedes."""

    def __init__(self) -> None:
        self.sent: dict[tuple[str, str, int], collections.deque[tuple[int, bool, float]]] = collections.defaultdict(
            collections.deque
        )
        self.latencies: list[float] = []
        self.rows = 0
        self.writes = 0

    def frame(self, c: Candle) -> None:
        self.sent[c.key].append((c.trades, c.closed, time.perf_counter()))

    def committed(self, batch: Sequence[Candle]) -> None:
        now = time.perf_counter()
        self.writes += 1
        self.rows += len({c.key for c in batch})
        for c in batch:
            q = self.sent[c.key]
            while q and (q[0][0] <= c.trades or c.closed):
                self.latencies.append(now - q.popleft()[2])


class Timed(Sink):
    """Delegates to the real sink and tells the recorder when a batch committed."""

    def __init__(self, inner: Sink, recorder: Recorder) -> None:
        super().__init__(inner.ctx)
        self.inner, self.recorder = inner, recorder

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        await self.inner.run(task_status=task_status)

    async def write(self, batch: Sequence[Candle]) -> None:
        await self.inner.write(batch)
        self.recorder.committed(batch)

    def reader(self) -> CandleReader:
        return self.inner.reader()


def ctx(name: str, config: Any, settings: Settings, telemetry: Telemetry, **extra: Any) -> ComponentContext[Any]:
    send, receive = anyio.create_memory_object_stream[Candle](1)
    send.close()
    receive.close()
    return ComponentContext(
        name=name, config=config, settings=settings, telemetry=telemetry, clock=telemetry.clock,
        log=logging.LoggerAdapter(logging.getLogger(name), {}), candles=CandleOutlet(send), **extra,
    )  # fmt: skip


def frames(seconds: float) -> list[list[Candle]]:
    """Ticks of frames: each market's open candle gains a trade per update; closes every MINUTE."""
    t0 = 1_700_000_040_000
    trades: dict[int, int] = collections.Counter()
    ticks = []
    per_tick = int(RATE * TICK)
    for k in range(int(seconds / TICK)):
        minute = int(k * TICK / MINUTE)
        t = t0 + minute * 60_000
        batch = []
        if k and int((k - 1) * TICK / MINUTE) != minute:  # the previous candle of every market closes
            for m in range(MARKETS):
                batch.append(_candle(m, t - 60_000, trades[m] + 1, closed=True))
            trades.clear()
        for j in range(per_tick):
            m = (k * per_tick + j) % MARKETS
            trades[m] += 1
            batch.append(_candle(m, t, trades[m], closed=False))
        ticks.append(batch)
    return ticks


def _candle(m: int, t: int, n: int, *, closed: bool) -> Candle:
    return Candle(f"M{m}", "1m", t, close_time("1m", t), "100.5", f"{100 + n * 0.01:.2f}", "99.5", "100.25",
                  f"{n * 0.137:.3f}", n, closed, "live")  # fmt: skip


async def pace(ticks: list[list[Candle]], send: Any) -> None:
    start = time.perf_counter()
    for k, tick in enumerate(ticks):
        delay = start + k * TICK - time.perf_counter()
        if delay > 0:
            await anyio.sleep(delay)
        for c in tick:
            await send(c)


async def through_buffer(sink: Sink, rec: Recorder, ticks: list[list[Candle]], spool: Path, flush: float) -> None:
    settings = Settings.model_validate({"sources": {}, "sink": {"use": sink.name}, "spool": {"dir": spool}})
    send, receive = anyio.create_memory_object_stream[Candle](10_000)
    timed = Timed(sink, rec)
    buffer = MemoryBuffer(
        ctx(
            "memory",
            MemoryBufferConfig(flush_interval=flush),
            settings,
            sink.ctx.telemetry,
            inbox=receive,
            lookup=lambda name: timed,
        )
    )

    async def feed(c: Candle) -> None:
        rec.frame(c)
        await send.send(c)

    async with anyio.create_task_group() as tg:
        await tg.start(timed.run)
        done = anyio.Event()

        async def run_buffer(*, task_status: Any) -> None:
            await buffer.run(task_status=task_status)
            done.set()

        await tg.start(run_buffer)
        await pace(ticks, feed)
        send.close()
        await done.wait()
        receive.close()
        tg.cancel_scope.cancel()


async def direct(sink: Sink, rec: Recorder, ticks: list[list[Candle]]) -> None:
    timed = Timed(sink, rec)

    async def feed(c: Candle) -> None:
        rec.frame(c)
        await timed.write([c])

    async with anyio.create_task_group() as tg:
        await tg.start(timed.run)
        await pace(ticks, feed)
        tg.cancel_scope.cancel()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def bench(kind: str, seconds: float, dsn: str) -> list[tuple[str, int, Recorder, float, float]]:
    ticks = frames(seconds)
    total = sum(len(t) for t in ticks)
    out = []
    db_name = None
    admin = None
    if kind == "timescaledb":
        db_name = f"candlewick_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(f"{dsn}/postgres")
        await admin.execute(f"CREATE DATABASE {db_name}")
    try:
        for label, flush in (
            ("direct, 1 row per write", None),
            ("buffer flush 1.0 s", 1.0),
            ("buffer flush 0.25 s", 0.25),
        ):
            with tempfile.TemporaryDirectory() as tmp:
                telemetry = Telemetry()
                settings = Settings.model_validate({"sources": {}})
                sink: Sink
                if kind == "sqlite":
                    sink = SqliteSink(ctx("sqlite", SqliteConfig(path=Path(tmp) / "c.db"), settings, telemetry))
                else:
                    sink = TimescaleSink(
                        ctx("timescaledb", TimescaleConfig(dsn=f"{dsn}/{db_name}"), settings, telemetry)
                    )
                rec = Recorder()
                start = time.perf_counter()
                if flush is None:
                    await direct(sink, rec, ticks)
                else:
                    await through_buffer(sink, rec, ticks, Path(tmp) / "spool", flush)
                wall = time.perf_counter() - start
                out.append((label, total, rec, (flush or 0.0) + 0.1 if flush else float("nan"), wall / seconds))
    finally:
        if admin is not None:
            await admin.execute(f"DROP DATABASE {db_name} WITH (FORCE)")
            await admin.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sink", choices=["sqlite", "timescaledb", "both"], default="both")
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    kinds = ["sqlite", "timescaledb"] if args.sink == "both" else [args.sink]
    rows = []
    for kind in kinds:
        for label, total, rec, target, slowdown in anyio.run(bench, kind, args.seconds, args.dsn):
            rows.append((kind, label, total, rec, target, slowdown))
    print(f"{RATE} frames/s over {MARKETS} markets for {args.seconds:.0f}s; candles close every {MINUTE:.0f}s")
    print("latency: frame received -> its row (or a superseding one) committed; 'pace' = wall time / traffic time")
    print(f"{'sink':<12} {'path':<24} {'frames':>7} {'rows':>7} {'rows/frame':>10} {'x fewer':>7} {'writes':>7} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'target':>7} {'pace':>5}")  # fmt: skip
    base: dict[str, float] = {}
    for kind, label, total, rec, target, slowdown in rows:
        p50, p99 = pct(rec.latencies, 0.5) * 1000, pct(rec.latencies, 0.99) * 1000
        ratio = rec.rows / total
        base.setdefault(kind, ratio)
        ok = "-" if math.isnan(target) else ("ok" if p99 <= target * 1000 else "MISS")
        worst = max(rec.latencies) * 1000
        print(f"{kind:<12} {label:<24} {total:>7} {rec.rows:>7} {ratio:>10.3f} {base[kind] / ratio:>7.1f} "
              f"{rec.writes:>7} {p50:>8.1f} {p99:>8.1f} {worst:>8.1f} {ok:>7} {slowdown:>5.2f}")  # fmt: skip
    assert all(len(r[3].latencies) == r[2] for r in rows), "some frames never reached the database"


if __name__ == "__main__":
    main()
