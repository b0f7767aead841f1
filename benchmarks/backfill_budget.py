"""Backfill wall time of BTC x all 14 intervals x ``max`` under a 1200 weight/min budget.

Runs the REST client against the fake exchange on loopback, which itself enforces 1200
weight/min (a 429 would show in the table). The floor is the least time the budget allows:
total weight / (1200 / 60 per second). Target: wall / floor <= 1.10.

Two modes:
- ``empty bucket``: the client's bucket starts empty (another caller just spent it), so the
  floor is exactly total weight / budget: this measures how well the pacing uses the budget.
- ``full bucket``: the normal start (burst of 300 available), compared with the floor for the
  weight beyond that burst.

Real time by default (about a minute per mode). ``--speed N`` runs fake exchange and client on a
clock N times faster than real time (then the budget is 1200 per *simulated* minute), for a
quick look; the table says so.

Usage: python benchmarks/backfill_budget.py [--speed N] [--page-limit 5000|500] [--mode empty|full|both]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import anyio

from candlewick.model import INTERVALS
from candlewick.plugins.hyperliquid.budget import Priority, WeightBudget
from candlewick.plugins.hyperliquid.rest import HyperliquidRest
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.testing import FakeExchange, ScaledClock

BUDGET = 1200


@dataclass
class Result:
    mode: str
    requests: int
    candles: int
    weight: float
    floor: float
    wall: float
    rate_limited: int
    per_interval: list[tuple[str, int, float]]


async def run(mode: str, clock: Clock, page_limit: int) -> Result:
    async with FakeExchange(seed=0, clock=clock, weight_per_minute=BUDGET) as exchange:
        exchange.faults.page_limit = page_limit
        budget = WeightBudget(BUDGET, clock, start_full=mode == "full")
        per_interval = []
        async with HyperliquidRest(exchange.rest_url, budget=budget, clock=clock) as rest:
            start = clock.monotonic()
            candles = 0
            for interval in INTERVALS:
                used = budget.used
                got = await rest.fetch_latest("BTC", interval, priority=Priority.REPAIR)
                candles += len(got)
                per_interval.append((interval, len(got), budget.used - used))
            wall = clock.monotonic() - start
        weight = budget.used
        paid_upfront = budget.burst if mode == "full" else 0.0
        floor = max(0.0, weight - paid_upfront) / (BUDGET / 60.0)
        return Result(
            mode=f"{mode} bucket" + (f" (burst {budget.burst:g})" if mode == "full" else ""),
            requests=exchange.stats.rest_by_type.get("candleSnapshot", 0),
            candles=candles,
            weight=weight,
            floor=floor,
            wall=wall,
            rate_limited=exchange.stats.rate_limited,
            per_interval=per_interval,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, default=1.0, help="clock speed-up (default 1: real time)")
    parser.add_argument("--page-limit", type=int, default=5000, choices=[5000, 500])
    parser.add_argument("--mode", choices=["empty", "full", "both"], default="both")
    args = parser.parse_args()
    modes = ["empty", "full"] if args.mode == "both" else [args.mode]
    results = []
    for mode in modes:
        clock: Clock = SystemClock() if args.speed == 1 else ScaledClock(args.speed)
        t0 = time.perf_counter()
        results.append(anyio.run(run, mode, clock, args.page_limit))
        print(f"  ({mode}: {time.perf_counter() - t0:.1f} s real)", flush=True)
    timing = (
        "real time"
        if args.speed == 1
        else f"SCALED time: clock runs {args.speed:g}x real, seconds below are clock seconds"
    )
    print(f"BTC x {len(INTERVALS)} intervals x max, budget {BUDGET} weight/min, pages of {args.page_limit}; {timing}")
    print(
        f"{'mode':<26} {'requests':>8} {'candles':>8} {'weight':>7} {'floor s':>8} {'wall s':>8}"
        f" {'wall/floor':>10} {'429s':>5}"
    )
    for r in results:
        ratio = r.wall / r.floor if r.floor else float("nan")
        print(
            f"{r.mode:<26} {r.requests:>8} {r.candles:>8} {r.weight:>7.0f} {r.floor:>8.2f} {r.wall:>8.2f}"
            f" {ratio:>10.3f} {r.rate_limited:>5}"
        )
    print("per interval (first mode): " + ", ".join(f"{iv} {n}c/{w:.0f}w" for iv, n, w in results[0].per_interval))


if __name__ == "__main__":
    main()
