"""Web API figures: page latency against the database, SSE fan-out CPU, RSS with [web], chart time.

``candlewick run`` runs as users run it (a subprocess, SQLite) against the fake exchange in this
process, which pushes the open candle of BTC 1m every 10 ms (about 100 updates a second). The
database is seeded first with the exchange's closed candles of the last ``--hours``. Figures:

- ``/api/v1/candles`` for 5000 rows (JSON), p50 and p99 over ``--requests`` requests, against
  the same query run directly with the ``sqlite3`` module (ratio);
- the daemon's CPU per second of wall time (/proc/<pid>/stat) with no stream open, 1 and 50
  ``/api/v1/stream`` subscribers, over ``--window`` seconds each, and the updates a second one
  subscriber received;
- the daemon's RSS with ``[web]`` off and on, after the same settling time (budget: +25 MB);
- page load to a drawn chart in Debian's Chromium (playwright), median of 5 loads.

Usage::

    python benchmarks/web.py
    python benchmarks/web.py --hours 240 --requests 200 --window 20
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx
from anyio.abc import Process

from candlewick.testing import CoinSpec, FakeExchange

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* helpers
from soak_support import MiB, cpu_seconds, rss_bytes

CHROMIUM = Path("/usr/bin/chromium")
#: 200 trades a second: the open candle changes at every 10 ms push, about 100 updates a second.
BUSY_BTC = (CoinSpec("BTC", 71_400.0, 5, activity=12_000.0),)
PAGE = 5000
READY = "() => document.body.dataset.state === 'ready' && Number(document.body.dataset.candles || 0) > 0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(work: Path, exchange: FakeExchange, port: int | None) -> Path:
    web = f'[web]\nlisten = "127.0.0.1:{port}"\n' if port else ""
    config = work / ("web-on.toml" if port else "web-off.toml")
    config.write_text(
        f"""[sources.hyperliquid]
coins = ["BTC"]
intervals = ["1m"]
backfill_on_start = "none"
ws_url = "{exchange.ws_url}"
rest_url = "{exchange.rest_url}"
[sink.sqlite]
path = "{work / "candles.db"}"
[control]
socket = "{work / ("on" if port else "off") / "control.sock"}"
[daemon]
data_dir = "{work / "data"}"
{web}"""
    )
    return config


async def seed(work: Path, exchange: FakeExchange, hours: int) -> int:
    """The exchange's closed BTC 1m candles of the last ``hours``, written by the real SQLite sink."""
    from candlewick.plugins.sqlite.config import SqliteConfig
    from candlewick.plugins.sqlite.sink import SqliteSink
    from tests.plugins.storage.helpers import context, start

    now = exchange.now_ms()
    candles = [c.as_closed() for c in exchange.truth("BTC", "1m", now - hours * 3_600_000, now)]
    sink = SqliteSink(context("sqlite", SqliteConfig(path=work / "candles.db")))
    async with anyio.create_task_group() as tg:
        await start(tg, sink)
        for i in range(0, len(candles), 5000):
            await sink.write(candles[i : i + 5000])
        tg.cancel_scope.cancel()
    return len(candles)


@asynccontextmanager
async def daemon(config: Path) -> AsyncIterator[Process]:
    exe = shutil.which("candlewick", path=str(Path(sys.executable).parent)) or "candlewick"
    async with await anyio.open_process([exe, "--config", str(config), "--log-level", "WARNING", "run"]) as proc:
        try:
            yield proc
        finally:
            proc.terminate()
            with anyio.move_on_after(15):
                await proc.wait()


async def wait_http(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as http:
        with anyio.fail_after(30):
            while True:
                try:
                    if (await http.get("/health")).status_code in (200, 503):
                        return
                except httpx.TransportError:
                    pass
                await anyio.sleep(0.1)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def page_latency(base: str, db: Path, start: int, requests: int) -> tuple[list[float], list[float]]:
    """Seconds per 5000-row page over HTTP, and per the same query straight on the database."""
    params = {"coin": "BTC", "interval": "1m", "start": str(start), "limit": str(PAGE)}
    http_times: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(requests):
            t0 = time.perf_counter()
            reply = await http.get("/api/v1/candles", params=params)
            http_times.append(time.perf_counter() - t0)
            assert len(reply.json()["rows"]) == PAGE
    sql = (
        "SELECT time, open, high, low, close, volume, trades, closed FROM candles"
        " WHERE coin = ? AND interval = ? AND time >= ? AND time < ? ORDER BY time LIMIT ?"
    )
    db_times: list[float] = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        for _ in range(requests):
            t0 = time.perf_counter()
            rows = conn.execute(sql, ("BTC", "1m", start, 10**15, PAGE + 1)).fetchall()
            db_times.append(time.perf_counter() - t0)
            assert len(rows) == PAGE + 1
    return http_times, db_times


async def fanout_cpu(base: str, pid: int, subscribers: int, window: float) -> tuple[float, float]:
    """Daemon CPU seconds per second with ``subscribers`` streams open, and updates/s one received."""
    received = [0]
    ready = anyio.Event()
    opened = [0]

    async def subscribe(http: httpx.AsyncClient, count: bool) -> None:
        async with http.stream("GET", "/api/v1/stream", params={"coin": "BTC", "interval": "1m"}) as reply:
            opened[0] += 1
            if opened[0] == subscribers:
                ready.set()
            async for line in reply.aiter_lines():
                if count and line.startswith("id:"):
                    received[0] += 1

    limits = httpx.Limits(max_connections=subscribers + 5)
    async with (
        httpx.AsyncClient(base_url=base, timeout=None, limits=limits) as http,
        anyio.create_task_group() as tg,
    ):
        for i in range(subscribers):
            tg.start_soon(subscribe, http, i == 0)
        if subscribers:
            await ready.wait()
        await anyio.sleep(1.0)
        received[0] = 0
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        await anyio.sleep(window)
        elapsed = time.perf_counter() - t0
        cpu = (cpu_seconds(pid) - cpu0) / elapsed
        rate = received[0] / elapsed
        tg.cancel_scope.cancel()
    return cpu, rate


async def chart_time(base: str, loads: int = 5) -> float | None:
    """Median seconds from navigation to a drawn chart in Chromium, or None without chromium."""
    if not CHROMIUM.exists():  # noqa: ASYNC240  (one stat)
        return None
    from playwright.async_api import async_playwright

    from tests.web.browser import ARGS

    times: list[float] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for _ in range(loads):
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            await page.goto(f"{base}/#BTC/1m")
            await page.wait_for_function(READY, timeout=30_000, polling=10)
            times.append(time.perf_counter() - t0)
            await page.close()
        await browser.close()
    return statistics.median(times)


@dataclass
class Figures:
    stored: int = 0
    http_t: list[float] = field(default_factory=list)
    db_t: list[float] = field(default_factory=list)
    cpu: dict[int, tuple[float, float]] = field(default_factory=dict)  # subscribers -> (cpu/s, updates/s)
    rss_off: int = 0
    rss_on: int = 0
    chart: float | None = None


async def measure(args: argparse.Namespace, work: Path) -> Figures:
    """Run the daemon without and with [web] against the busy fake exchange, and measure."""
    out = Figures()
    async with FakeExchange(seed=3, push_interval=0.01, coins=BUSY_BTC) as exchange:
        out.stored = await seed(work, exchange, args.hours)
        async with daemon(write_config(work, exchange, None)) as off:
            await anyio.sleep(args.settle)
            out.rss_off = rss_bytes(off.pid)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        async with daemon(write_config(work, exchange, port)) as on:
            await wait_http(base)
            await anyio.sleep(max(0.0, args.settle - 2))
            async with httpx.AsyncClient(base_url=base) as http:  # the read path opened once
                await http.get("/api/v1/candles", params={"coin": "BTC", "interval": "1m", "limit": "10"})
            out.rss_on = rss_bytes(on.pid)
            start = exchange.now_ms() - args.hours * 3_600_000 + 60_000
            out.http_t, out.db_t = await page_latency(base, work / "candles.db", start, args.requests)
            for subscribers in (0, 1, 50):
                out.cpu[subscribers] = await fanout_cpu(base, on.pid, subscribers, args.window)
            out.chart = await chart_time(base)
    return out


def table(f: Figures) -> list[tuple[str, str, str, str]]:
    rows = []
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        h, d = percentile(f.http_t, q), percentile(f.db_t, q)
        rows.append(
            (f"/api/v1/candles 5000 rows {name}", f"{h * 1000:.1f} ms", f"{d * 1000:.1f} ms sqlite3", f"{h / d:.1f}x")
        )
    base_cpu = f.cpu[0][0]
    rows.append(("daemon CPU, no stream (baseline)", f"{base_cpu * 100:.1f} %", "", "1.0x"))
    for n in (1, 50):
        cpu, rate = f.cpu[n]
        label = f"daemon CPU, {n} SSE subscriber{'s' if n > 1 else ''}"
        rows.append((label, f"{cpu * 100:.1f} %", f"{rate:.0f} updates/s each", f"{cpu / base_cpu:.1f}x"))
    delta = (f.rss_on - f.rss_off) / MiB
    rows.append(("daemon RSS, [web] off", f"{f.rss_off / MiB:.1f} MB", "", "1.0x"))
    rows.append(
        (
            "daemon RSS, [web] on",
            f"{f.rss_on / MiB:.1f} MB",
            f"+{delta:.1f} MB (budget +25)",
            f"{f.rss_on / f.rss_off:.2f}x",
        )
    )
    chart = f"{f.chart * 1000:.0f} ms" if f.chart is not None else "no chromium"
    rows.append(("page load to drawn chart (Chromium)", chart, "median of 5", ""))
    rows.append(("rows stored (BTC 1m)", str(f.stored), "", ""))
    return rows


async def run(args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    work = Path(tempfile.mkdtemp(prefix="candlewick-web-bench-"))
    try:
        return table(await measure(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--hours", type=int, default=120, help="history seeded, hours of BTC 1m (default 120)")
    parser.add_argument("--requests", type=int, default=100, help="requests per latency figure (default 100)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per CPU figure (default 10)")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds before RSS is read (default 8)")
    args = parser.parse_args(argv)
    rows = anyio.run(run, args)
    widths = [max(len(r[i]) for r in [("figure", "value", "against", "ratio"), *rows]) for i in range(4)]
    for row in [("figure", "value", "against", "ratio"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
