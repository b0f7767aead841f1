"""The whole exchange from one IP: every perp x 14 intervals, 1m subscribed and 13 derived.

`candlewick run` as users run it (a subprocess, SQLite sink, default settings otherwise:
``confirm_closed = "auto"``, reconciliation every 300 s) follows ``coins = ["*"]`` of the fake's
full universe (240 perps with the exchange's spread of update rates; the fake in this process
enforces the per-IP websocket limits and 1200 REST weight a minute) in **real time**, for
``--seconds``. The websocket carries 1m only; the other 13 intervals are folded from it
(``derive``). Reported, in one table:

- subscriptions and connections used (and the peaks the fake saw), per-IP limit violations;
- daemon CPU over the measured window (utime + stime from /proc: % of one core, and us per
  frame received, derivation and writing included), peak RSS against the 120 MB budget;
- rows written per second (``stats``), REST weight per minute charged by the fake (by request type);
- at the end, every closed candle of a bucket that opened after the daemon's first minute and
  ended before the last one, compared with the fake's truth: stored and equal / expected,
  mismatches, missing; and reconciliation's own counts (``derived_checked``, ``derived_mismatches``);
- with ``--history``, the start-up history part of ``benchmarks/universe.py`` (weight spent by
  gap repair's jobs against the exchange's floor, on an accelerated fake clock).

Measured on the development machine (shared 2-core VM; fake and daemon on the same cores), 600 s
real time: 240 subscriptions on 3 connections, no per-IP limit touched; 1.8 % of one core,
2100 us of CPU per frame received (each 1m frame also yields the derived versions of 13
intervals: 8.5 frames/s became 33.9 rows/s), 68.6 MB peak RSS; REST 1042 weight a minute, nearly
all ``candleSnapshot`` confirmations of closes the websocket gave no evidence for (a quiet market's
minute is closed by the clock); 3120 of 3120 closed 1m/3m/5m candles stored and equal to the
exchange's, 0 mismatches; reconciliation checked 22 (it waits while the budget is under half full).

Usage::

    python benchmarks/whole_exchange.py                      # 600 s measured after 60 s warm-up
    python benchmarks/whole_exchange.py --seconds 120 --warmup 30 --history
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import anyio

from candlewick.model import INTERVALS, next_open, open_time
from candlewick.testing import FakeExchange, full_universe

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_support import daemon_stats, wait_ready
from soak_support import Key, MiB, Values, compare, cpu_seconds, rss_bytes, sqlite_rows, values_of

DERIVED = [i for i in INTERVALS if i != "1m"]
RSS_BUDGET_MB = 120


def write_config(path: Path, workdir: Path, ex: FakeExchange) -> None:
    path.write_text(
        f'[sources.hyperliquid]\nws_url = {ex.ws_url!r}\nrest_url = {ex.rest_url!r}\ncoins = ["*"]\n'
        f"intervals = [{', '.join(repr(i) for i in INTERVALS)}]\nderive = [{', '.join(repr(i) for i in DERIVED)}]\n"
        'backfill_on_start = "none"\n'
        f"[sink.sqlite]\npath = {str(workdir / 'candles.db')!r}\n"
        f"[daemon]\ndata_dir = {str(workdir / 'data')!r}\n[control]\nsocket = {str(workdir / 'c.sock')!r}\n"
    )


def truth(ex: FakeExchange, coins: list[str], start: int, end: int) -> dict[Key, tuple[Values, tuple[str, ...]]]:
    """Closed candles of buckets opening at or after ``start`` and ending by ``end``, per the fake."""
    out: dict[Key, tuple[Values, tuple[str, ...]]] = {}
    for interval in INTERVALS:
        first = open_time(interval, start)
        first = first if first == start else next_open(interval, first)
        for coin in coins:
            for c in ex.truth(coin, interval, first, end):
                if c.open_time >= first and c.close_time < end:
                    raw = (c.open, c.high, c.low, c.close, c.volume)
                    out[(coin, interval, c.open_time)] = (values_of(*raw, c.trades), raw)
    return out


async def live(args: argparse.Namespace) -> list[tuple[str, str]]:
    workdir = Path(tempfile.mkdtemp(prefix="cw-whole-", dir="/tmp"))
    exe = shutil.which("candlewick", path=str(Path(sys.executable).parent)) or "candlewick"
    coins = full_universe()
    perps = [c.name for c in coins if c.kind == "perp" and ":" not in c.name]
    try:
        async with FakeExchange(seed=11, coins=coins, push_interval=args.push_interval,
                                weight_per_minute=1200) as ex:  # fmt: skip
            config = workdir / "candlewick.toml"
            write_config(config, workdir, ex)
            socket = workdir / "c.sock"
            with (workdir / "daemon.log").open("wb") as log:
                env = {k: v for k, v in os.environ.items() if k != "CANDLEWICK_CONFIG"}
                proc = await anyio.open_process([exe, "--config", str(config), "run"], stdout=log, stderr=log, env=env)
                try:
                    await wait_ready(socket, proc, timeout=120.0, poll=0.5)
                    started = ex.now_ms()
                    await anyio.sleep(args.warmup)
                    s0, cpu0, w0, t0 = (
                        await daemon_stats(socket),
                        cpu_seconds(proc.pid),
                        ex.stats.rest_weight,
                        time.monotonic(),
                    )
                    by_type0 = dict(ex.stats.rest_by_type)
                    rss = 0
                    while time.monotonic() < t0 + args.seconds:
                        await anyio.sleep(1.0)
                        rss = max(rss, rss_bytes(proc.pid))
                    s1, cpu1, w1, t1 = (
                        await daemon_stats(socket),
                        cpu_seconds(proc.pid),
                        ex.stats.rest_weight,
                        time.monotonic(),
                    )
                    ended = ex.now_ms()
                    subs, conns = len(ex.subscriptions()), ex.connections
                    by_type = {k: n - by_type0.get(k, 0) for k, n in ex.stats.rest_by_type.items()}
                    await anyio.sleep(args.settle)  # the last closes reach the database
                finally:
                    proc.terminate()
                    with anyio.move_on_after(30):
                        await proc.wait()
                    if proc.returncode is None:
                        proc.kill()
            # Buckets from the daemon's second minute (the first is joined mid-way) to the end.
            expected = truth(ex, perps, open_time("1m", started) + 120_000, ended - 10_000)
            result = compare(expected, sqlite_rows(workdir / "candles.db"), exact_text=False)
            peaks, violations = ex.limits.peaks, ex.limits.violations
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = t1 - t0
    frames = max(1, int(s1["frames_in"]) - int(s0["frames_in"]))
    rows = int(s1["rows_written"]) - int(s0["rows_written"])
    per_interval: dict[str, int] = {}
    for _coin, interval, _t in expected:
        per_interval[interval] = per_interval.get(interval, 0) + 1
    by_interval = ", ".join(f"{i} {n}" for i, n in per_interval.items())
    requests = ", ".join(f"{k} {n}" for k, n in sorted(by_type.items()) if n)
    return [
        ("perps x intervals (1m subscribed, 13 derived)", f"{len(perps)} x {len(INTERVALS)} = {len(perps) * 14}"),
        ("measured", f"{seconds:.0f} s real time after {args.warmup:.0f} s warm-up; fake pushes every "
                     f"{args.push_interval:g} s"),
        ("subscriptions / connections (peak)", f"{subs} / {conns} ({peaks.get('subscriptions')} / "
                                               f"{peaks.get('connections')})"),
        ("peak connects / messages a minute", f"{peaks.get('connects_per_minute')} / "
                                              f"{peaks.get('messages_per_minute')}"),
        ("per-IP limit violations", f"{violations or 'none'}"),
        ("daemon CPU, % of one core", f"{100 * (cpu1 - cpu0) / seconds:.1f}"),
        ("frames received / s", f"{frames / seconds:.1f}"),
        ("daemon CPU per frame (derivation, sink included)", f"{1e6 * (cpu1 - cpu0) / frames:.0f} us"),
        ("peak RSS (budget 120 MB)", f"{rss / 1e6:.1f} MB ({rss / MiB:.1f} MiB)"),
        ("rows written / s", f"{rows / seconds:.1f}"),
        ("REST weight / minute (fake's count)", f"{60 * (w1 - w0) / seconds:.0f} of 1200 ({requests})"),
        ("closed candles expected (by interval)", f"{result.expected} ({by_interval})"),
        ("stored closed and equal to the exchange's", f"{result.equal} ({result.completeness:.2f} %)"),
        ("mismatches / missing / not closed / extra",
         f"{len(result.mismatches)} / {len(result.missing)} / {len(result.not_closed)} / {result.extra}"),
        ("reconciliation: checked / mismatches (stats)",
         f"{s1.get('derived_checked')} / {s1.get('derived_mismatches')}"),
    ]  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    rows = await live(args)
    if args.history:
        import universe

        history = argparse.Namespace(speed=args.history_speed, intervals=args.history_intervals, backfill="3d")
        rows += universe.arithmetic(int(time.time() * 1000))[-2:] + await universe.measure(history)
    width = max(len(k) for k, _ in rows)
    print(f"{'figure':<{width}}  value")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument("--push-interval", type=float, default=0.5)
    parser.add_argument("--history", action="store_true", help="add the start-up history figures")
    parser.add_argument("--history-speed", type=float, default=10.0)
    parser.add_argument("--history-intervals", nargs="+", default=["15m", "1h", "4h", "1d"])
    anyio.run(main, parser.parse_args())
