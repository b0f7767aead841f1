"""Derived intervals: daemon CPU and memory, derived vs native, and the fold's cost per 1m update.

Two figures, one table:

1. **The daemon**, `candlewick run` as users run it (a subprocess, SQLite), against the fake
   exchange in this process with ``--coins`` perps x 14 intervals, twice: every interval
   subscribed natively (the baseline, ``coins x 14`` subscriptions), then only 1m subscribed
   and the 13 others derived. After ``--warmup`` seconds, ``--seconds`` of daemon CPU (utime +
   stime from /proc), frames (``stats``) and RSS are sampled. Reported: CPU % of one core,
   microseconds of CPU per frame received, RSS, subscriptions, and the ratio derived / native.
   REST confirmation is off in both runs and reconciliation rounds do not fall in the window,
   so the figures are the websocket path (frames, closing, folding, buffer, sink).
2. **The fold alone** (no I/O): microseconds per 1m update through
   :class:`~candlewick.plugins.hyperliquid.derive.CoinDeriver` with 13 derived intervals, against
   the baseline of the same update through the 1m closing tracker.

Measured on the development machine (shared 2-core VM under other load, so +-20 %), 60 perps x
14 intervals, pushes every 0.5 s: native 840 subscriptions, 5.5 % of a core, 121 us per frame,
62 MiB RSS; derived 60 subscriptions, 1.5 % of a core (0.27x), 479 us per (1m) frame since each
one now also yields about nine derived versions for the buffer and sink, 62 MiB. The fold alone:
39 us per 1m update into 13 intervals, against 1.1 us through the 1m closing tracker.

Usage::

    python benchmarks/derived_intervals.py                     # 60 perps, 30 s warm-up, 60 s each
    python benchmarks/derived_intervals.py --coins 20 --seconds 20 --warmup 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from candlewick.model import INTERVALS, MINUTE_MS, Candle
from candlewick.plugins.hyperliquid.closing import ClosingTracker
from candlewick.plugins.hyperliquid.derive import CoinDeriver
from candlewick.testing import CoinSpec, FakeExchange, MarketModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_support import daemon_stats, wait_ready
from soak_support import MiB, cpu_seconds, rss_bytes

DERIVED = [i for i in INTERVALS if i != "1m"]


@dataclass
class DaemonFigures:
    mode: str
    subscriptions: int
    cpu_percent: float
    frames_per_second: float
    us_per_frame: float
    rss_mib: float


def perps(count: int) -> tuple[CoinSpec, ...]:
    """``count`` perps with prices from 0.001 to 50 000 and 10 to 60 trades a minute."""
    return tuple(
        CoinSpec(f"P{k:03d}", price=0.001 * 10 ** (k % 8), sz_decimals=k % 5, activity=10.0 + 50.0 * (k % 7) / 6)
        for k in range(count)
    )


def write_config(path: Path, workdir: Path, ex: FakeExchange, coins: list[str], derive: list[str]) -> None:
    quoted = ", ".join(f'"{c}"' for c in coins)
    path.write_text(
        f"[sources.hyperliquid]\nws_url = {ex.ws_url!r}\nrest_url = {ex.rest_url!r}\ncoins = [{quoted}]\n"
        f"intervals = [{', '.join(repr(i) for i in INTERVALS)}]\nderive = [{', '.join(repr(i) for i in derive)}]\n"
        'backfill_on_start = "none"\nconfirm_closed = false\nreconcile_every = 3600.0\n'
        "[sources.hyperliquid-backfill]\ndetect = false\n"
        f"[sink.sqlite]\npath = {str(workdir / 'candles.db')!r}\n"
        f"[daemon]\ndata_dir = {str(workdir / 'data')!r}\n[control]\nsocket = {str(workdir / 'c.sock')!r}\n"
    )


async def run_daemon(args: argparse.Namespace, mode: str) -> DaemonFigures:
    workdir = Path(tempfile.mkdtemp(prefix="cw-derive-", dir="/tmp"))
    exe = shutil.which("candlewick", path=str(Path(sys.executable).parent)) or "candlewick"
    coins = perps(args.coins)
    try:
        async with FakeExchange(seed=3, coins=coins, push_interval=args.push_interval) as ex:
            config = workdir / "candlewick.toml"
            write_config(config, workdir, ex, [c.name for c in coins], DERIVED if mode == "derived" else [])
            socket = workdir / "c.sock"
            with (workdir / "daemon.log").open("wb") as log:
                env = {k: v for k, v in os.environ.items() if k != "CANDLEWICK_CONFIG"}
                proc = await anyio.open_process([exe, "--config", str(config), "run"], stdout=log, stderr=log, env=env)
                try:
                    await wait_ready(socket, proc)
                    await anyio.sleep(args.warmup)
                    subs = len(ex.subscriptions())
                    cpu0, frames0, t0 = (
                        cpu_seconds(proc.pid),
                        int(str((await daemon_stats(socket, timeout=5.0))["frames_in"])),
                        time.monotonic(),
                    )
                    rss = 0
                    end = t0 + args.seconds
                    while time.monotonic() < end:
                        await anyio.sleep(1.0)
                        rss = max(rss, rss_bytes(proc.pid))
                    cpu1, frames1, t1 = (
                        cpu_seconds(proc.pid),
                        int(str((await daemon_stats(socket, timeout=5.0))["frames_in"])),
                        time.monotonic(),
                    )
                finally:
                    proc.terminate()
                    with anyio.move_on_after(30):
                        await proc.wait()
                    if proc.returncode is None:
                        proc.kill()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    frames = max(1, frames1 - frames0)
    return DaemonFigures(
        mode, subs, 100 * (cpu1 - cpu0) / (t1 - t0), frames / (t1 - t0), 1e6 * (cpu1 - cpu0) / frames, rss / MiB
    )


def minute_versions(minutes: int, per_minute: int) -> list[Candle]:
    """Versions of a realistic 1m series (the fake's), ``per_minute`` open ones then the final one."""
    model = MarketModel(seed=1)
    start = 1_760_000_040_000 - 1_760_000_040_000 % MINUTE_MS
    out: list[Candle] = []
    for k in range(minutes):
        t = start + k * MINUTE_MS
        out.extend(c for j in range(1, per_minute + 1) if (c := model.state("BTC", "1m", t + j * 59_000 // per_minute)))
        final = model.candle("BTC", "1m", t)
        if final is not None:
            out.append(final)
    return out


def fold_cost(minutes: int, per_minute: int) -> tuple[float, float, int]:
    """Microseconds per 1m update: the closing tracker alone, and the fold into 13 intervals."""
    versions = minute_versions(minutes, per_minute)
    start = versions[0].open_time
    tracker = ClosingTracker(3000)
    t0 = time.perf_counter()
    for v in versions:
        tracker.offer(v, v.open_time)
    base = time.perf_counter() - t0
    deriver = CoinDeriver("BTC", DERIVED, cover_from=start, live_from=start, grace_ms=3000)
    emitted = 0
    t0 = time.perf_counter()
    for v in versions:
        emitted += len(deriver.offer(v))
    fold = time.perf_counter() - t0
    return 1e6 * base / len(versions), 1e6 * fold / len(versions), emitted


async def main(args: argparse.Namespace) -> None:
    base_us, fold_us, emitted = fold_cost(args.fold_minutes, 4)
    native = await run_daemon(args, "native")
    derived = await run_daemon(args, "derived")
    print(f"\n{args.coins} perps x {len(INTERVALS)} intervals, fake pushes every {args.push_interval} s, "
          f"{args.seconds:.0f} s measured after {args.warmup:.0f} s\n")  # fmt: skip
    print(f"{'run':<32}{'subs':>6}{'CPU % core':>12}{'frames/s':>10}{'us/frame':>10}{'RSS MiB':>9}")
    for f in (native, derived):
        print(
            f"{f.mode + (' (baseline)' if f.mode == 'native' else ''):<32}{f.subscriptions:>6}"
            f"{f.cpu_percent:>12.1f}{f.frames_per_second:>10.1f}{f.us_per_frame:>10.0f}{f.rss_mib:>9.1f}"
        )
    print(
        f"{'derived / native':<32}{derived.subscriptions / max(1, native.subscriptions):>6.2f}"
        f"{derived.cpu_percent / max(native.cpu_percent, 1e-9):>12.2f}"
        f"{derived.frames_per_second / max(native.frames_per_second, 1e-9):>10.2f}"
        f"{derived.us_per_frame / max(native.us_per_frame, 1e-9):>10.2f}"
        f"{derived.rss_mib / max(native.rss_mib, 1e-9):>9.2f}"
    )
    print(f"{'fold, per 1m update (no I/O)':<32}{'':>6}{'':>12}{'':>10}{fold_us:>10.1f}")
    print(f"{'closing tracker, per update':<32}{'':>6}{'':>12}{'':>10}{base_us:>10.1f}")
    print(f"{'fold / tracker':<32}{'':>6}{'':>12}{'':>10}{fold_us / base_us:>10.2f}")
    print(f"(fold: {args.fold_minutes} minutes x 5 versions, {emitted} derived versions emitted)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coins", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--push-interval", type=float, default=0.5)
    parser.add_argument("--fold-minutes", type=int, default=2880)
    anyio.run(main, parser.parse_args())
