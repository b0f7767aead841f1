"""The whole exchange from one IP: subscription plan, start-up history weight against its floor.

Part 1 (arithmetic, no I/O): the fake's full universe (240 perps) x 14 intervals, planned within
the per-IP limits with every market native, and with every interval but 1m derived (the seam
derived intervals plug into); and the start-up history floor of 240 perps listed 2023-05-01 on the
real exchange's 5000-candle windows (one ``candleSnapshot`` per market: 20 + ceil(N / 60)).

Part 2 (measured): the real daemon (SQLite sink) follows ``coins = ["*"]`` x ``--intervals`` of the
fake's full universe, which enforces 1200 REST weight a minute and the per-IP websocket limits,
on a clock ``--speed`` times faster than real time. Start-up history (``--backfill``) goes
through gap repair's jobs (``startup_history = "jobs"``), shortest horizon first. Measured: the
REST weight spent until every start-up job is done, against the floor for the candles each
market had at start (the ratio must stay <= 1.05), the time that took on the fake's clock and
in real time, and the most connections / subscriptions / connects and messages a minute the
fake saw. Closes are not confirmed over REST here (``confirm_closed = false``), so the weight is
history and metadata only.

Intervals that close rarely keep the live feed's own repairs out of the figure, and a moderate
speed keeps one process running fake and daemon from stalling past the pong timeout (each
reconnect costs a catch-up request per market, shown beside the weight).

Usage: python benchmarks/universe.py [--speed 10] [--intervals 15m 1h 4h 1d] [--backfill 3d]
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from candlewick.config import Settings
from candlewick.model import INTERVALS
from candlewick.plugin import SupportsBackfill
from candlewick.pluginmanager import build_plugin_manager
from candlewick.plugins.hyperliquid.config import parse_backfill
from candlewick.plugins.hyperliquid.limits import plan
from candlewick.plugins.hyperliquid.weights import available, history_floor
from candlewick.runtime import names
from candlewick.runtime.daemon import Daemon
from candlewick.testing import FakeExchange, ScaledClock, full_universe

LISTED = 1_682_899_200_000  # 2023-05-01


def arithmetic(now_ms: int) -> list[tuple[str, str]]:
    perps = [c.name for c in full_universe() if c.kind == "perp" and ":" not in c.name]
    markets = [(c, i) for c in perps for i in INTERVALS]
    native = plan(markets)
    derived = plan(markets, native=lambda m: m[1] == "1m")
    counts = [available(i, LISTED, now_ms) for _ in perps for i in INTERVALS]
    floor = history_floor(counts)
    return [
        ("markets (240 perps x 14 intervals)", f"{len(markets)}"),
        ("all native: subscriptions / connections / not followed",
         f"{native.subscriptions} / {len(native.connections)} / {len(native.unplaced)}"),
        ("1m native, 13 derived: subscriptions / connections / not followed",
         f"{derived.subscriptions} / {len(derived.connections)} / {len(derived.unplaced)}"),
        ("history floor, real windows (weight)", f"{floor} = {len(counts)} requests x 20 + {floor - 20 * len(counts)}"),
        ("history floor at 1200/min", f"{floor / 1200:.0f} min ({floor / 1200 / 60:.1f} h)"),
    ]  # fmt: skip


async def measure(args: argparse.Namespace) -> list[tuple[str, str]]:
    clock = ScaledClock(speed=args.speed)
    backfill_ms = parse_backfill(args.backfill)
    assert isinstance(backfill_ms, int)
    async with FakeExchange(seed=9, clock=clock, coins=full_universe(), push_interval=30,
                            weight_per_minute=1200) as exchange:  # fmt: skip
        perps = [c.name for c in exchange.model.coins if c.kind == "perp" and ":" not in c.name]
        start = exchange.now_ms()
        counts = [len(exchange.snapshot(c, i, start - backfill_ms, start)) for c in perps for i in args.intervals]
        floor = history_floor(counts)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings.model_validate({
                "sources": {"hyperliquid": {
                    "ws_url": exchange.ws_url, "rest_url": exchange.rest_url, "coins": ["*"],
                    "intervals": args.intervals, "backfill_on_start": args.backfill,
                    "startup_history": "jobs", "confirm_closed": False,
                }},
                "sink": {"use": "sqlite", "sqlite": {"path": str(Path(tmp) / "candles.db")}},
                "daemon": {"data_dir": Path(tmp) / "data", "shutdown_timeout": 10},
            })  # fmt: skip
            daemon = Daemon(settings, build_plugin_manager(), clock=clock)
            daemon.build()
            t0 = time.perf_counter()
            async with anyio.create_task_group() as tg:
                await tg.start(functools.partial(daemon.run, signals=False))
                jobs = daemon.component("hyperliquid-backfill")
                assert isinstance(jobs, SupportsBackfill)
                done = await _jobs_done(jobs, expected=len(counts))
                fake_s = (exchange.now_ms() - start) / 1000
                real_s = time.perf_counter() - t0
                spent = daemon.telemetry.metrics.total(names.REST_WEIGHT_USED)
                reconnects = daemon.telemetry.metrics.total(names.RECONNECTS)
                daemon.request_shutdown("benchmark")
        peaks = exchange.limits.peaks
        history = exchange.stats.rest_weight - 20 * sum(
            n for k, n in exchange.stats.rest_by_type.items() if k != "candleSnapshot"
        )
        return [
            ("measured markets (perps x intervals)", f"{len(counts)} ({len(perps)} x {' '.join(args.intervals)})"),
            ("start-up jobs done", f"{done}"),
            ("history floor (weight)", f"{floor}"),
            ("candleSnapshot weight charged by the fake", f"{history} ({history / floor:.3f}x floor)"),
            ("REST weight spent, all (daemon)", f"{spent:.0f} ({spent / floor:.3f}x floor)"),
            ("429s / websocket reconnects meanwhile", f"{exchange.stats.rate_limited} / {reconnects:.0f}"),
            ("time: fake clock / floor at 1200 per min", f"{fake_s / 60:.1f} min / {floor / 1200:.1f} min"),
            ("time: real", f"{real_s:.1f} s at {args.speed:g}x"),
            ("peak connections / subscriptions", f"{peaks.get('connections')} / {peaks.get('subscriptions')}"),
            ("peak connects / messages a minute",
             f"{peaks.get('connects_per_minute')} / {peaks.get('messages_per_minute')}"),
            ("per-IP limit violations", f"{exchange.limits.violations or 'none'}"),
        ]  # fmt: skip


async def _jobs_done(jobs: SupportsBackfill, *, expected: int) -> int:
    """Wait until the start-up check's jobs (the first ``expected``) all finished; returns how many are done."""
    while True:
        await anyio.sleep(0.2)
        listed: list[dict[str, Any]] = [j for j in jobs.backfill_list() if int(j["id"]) <= expected]
        if len(listed) >= expected and all(j["state"] not in ("queued", "running") for j in listed):
            return sum(1 for j in listed if j["state"] == "done")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--intervals", nargs="+", default=["15m", "1h", "4h", "1d"])
    parser.add_argument("--backfill", default="3d")
    args = parser.parse_args()
    rows = arithmetic(int(time.time() * 1000)) + anyio.run(measure, args)
    width = max(len(k) for k, _ in rows)
    print(f"{'figure':<{width}}  value")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
