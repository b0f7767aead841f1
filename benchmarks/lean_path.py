"""CPU per frame and peak memory of ``candlewick run`` against a minimal collector, same fake, same load.

The fake exchange (``candlewick.testing.FakeExchange``) runs in this process and pushes every
subscribed market every ``--push`` seconds (60 perps x 1m and 5m at 0.05 s: 2400 candle frames
a second nominal, on one websocket; the frames/s column says what the fake achieved). One after
the other, each contestant runs as a subprocess against it: the minimal collector
(``benchmarks/minimal_collector.py``), then ``candlewick run`` with a SQLite sink on asyncio and
on trio (and, with ``--before``, another installation of candlewick the same way). After
``--warmup`` seconds, a window of ``--window`` seconds is measured:

- CPU per frame: utime + stime of the process (every thread; /proc/<pid>/stat) over the window,
  divided by the candle frames the fake sent it in that window. CPU time, not wall time, so the
  figure does not depend on ``nice`` or on what else the machine runs, only on cache and
  frequency effects, which is why several rounds are run and the median reported;
- VmHWM: the peak resident set (/proc/<pid>/status) at the end of the window;
- start: spawn to the first candle frame the fake sent it (the subscriptions took effect);
- REST: requests it made in the window (candlewick confirms closed candles and repairs gaps).

``backfill_on_start`` is ``none``: start-up history is another benchmark's (``backfill_budget.py``).

Then ``--help`` wall time of each candlewick installation (``benchmarks/cli_startup.py``'s timer).

Usage: python benchmarks/lean_path.py [--rounds 3] [--before /path/to/other/venv/bin/candlewick]
       [--read-interval 0.02 --read-interval 0.1 ...]  (the pacing's trade: CPU per frame by read interval)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from candlewick.testing import CoinSpec, FakeExchange

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_startup import timed
from soak_support import MiB, cpu_seconds

HERE = Path(__file__).resolve().parent
COINS = tuple(CoinSpec(f"PERP{k:02d}", 10.0 + k, 2, activity=20_000.0) for k in range(60))
INTERVALS = ("1m", "5m")


@dataclass(frozen=True)
class Contestant:
    name: str
    argv: tuple[str, ...]  # {url}, {db}, {config} are filled in per run
    backend: str | None = None
    read_interval: float | None = None  # None: the configured default


@dataclass(frozen=True)
class Figures:
    name: str
    cpu_us_per_frame: float
    frames_per_second: float
    vm_hwm: int
    start_s: float
    rest: int  # REST requests the contestant made in the window


def vm_hwm(pid: int) -> int:
    """Peak resident set of ``pid`` (``VmHWM`` of /proc/<pid>/status), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def write_config(path: Path, ex: FakeExchange, workdir: Path, backend: str, read_interval: float | None = None) -> None:
    coins = [c.name for c in COINS]
    pacing = "" if read_interval is None else f"read_interval = {read_interval}\n"
    path.write_text(
        f"""[sources.hyperliquid]
ws_url = "{ex.ws_url}"
rest_url = "{ex.rest_url}"
coins = {json.dumps(coins)}
intervals = {json.dumps(list(INTERVALS))}
backfill_on_start = "none"
{pacing}
[sink]
use = "sqlite"
[sink.sqlite]
path = "{workdir / "candles.db"}"

[control]
socket = "{workdir / "control.sock"}"

[daemon]
data_dir = "{workdir / "data"}"
backend = "{backend}"

[logging]
level = "WARNING"
""",
        encoding="utf-8",
    )


def argv_for(c: Contestant, ex: FakeExchange, workdir: Path) -> list[str]:
    if c.backend is None:
        coins = ",".join(s.name for s in COINS)
        return [*c.argv, ex.ws_url, str(workdir / "candles.db"), coins, ",".join(INTERVALS)]
    config = workdir / "candlewick.toml"
    write_config(config, ex, workdir, c.backend, c.read_interval)
    return [*c.argv, "--config", str(config), "run", "--backend", c.backend]


async def measure(c: Contestant, ex: FakeExchange, warmup: float, window: float) -> Figures:
    with tempfile.TemporaryDirectory(prefix="cw-lean-") as tmp:
        workdir = Path(tmp)
        log = (workdir / "out.log").open("wb")
        sent_before = ex.stats.candle_frames
        spawned = time.monotonic()
        proc = await anyio.open_process(argv_for(c, ex, workdir), stdout=log, stderr=subprocess.STDOUT)
        try:
            while ex.stats.candle_frames == sent_before:
                if proc.returncode is not None or time.monotonic() - spawned > 60:
                    raise RuntimeError(f"{c.name} sent no subscription in time: {(workdir / 'out.log').read_text()}")
                await anyio.sleep(0.002)
            start_s = time.monotonic() - spawned
            await anyio.sleep(max(0.0, spawned + warmup - time.monotonic()))
            cpu0, frames0, t0 = cpu_seconds(proc.pid), ex.stats.candle_frames, time.monotonic()
            rest0 = ex.stats.rest_requests
            await anyio.sleep(window)
            cpu1, frames1, t1 = cpu_seconds(proc.pid), ex.stats.candle_frames, time.monotonic()
            rest = ex.stats.rest_requests - rest0
            peak = vm_hwm(proc.pid)
            if proc.returncode is not None:
                raise RuntimeError(f"{c.name} exited with {proc.returncode}: {(workdir / 'out.log').read_text()}")
        finally:
            await stop(proc)
            log.close()
    frames = frames1 - frames0
    return Figures(c.name, 1e6 * (cpu1 - cpu0) / frames, frames / (t1 - t0), peak, start_s, rest)


async def stop(proc: anyio.abc.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        with anyio.move_on_after(30):
            await proc.wait()
            return
        proc.kill()
        await proc.wait()


async def bench(contestants: Sequence[Contestant], args: argparse.Namespace) -> list[list[Figures]]:
    rounds: list[list[Figures]] = []
    async with FakeExchange(seed=13, coins=COINS, push_interval=args.push) as ex:
        for k in range(args.rounds):
            results = []
            for c in contestants:
                fig = await measure(c, ex, args.warmup, args.window)
                print(f"round {k + 1}: {row(fig, None)}", flush=True)
                results.append(fig)
                await anyio.sleep(1.0)  # the fake notices the old connection is gone
            rounds.append(results)
    return rounds


HEADER = f"{'contestant':<40} {'CPU us/frame':>12} {'x minimal':>9} {'frames/s':>9} {'VmHWM MB':>9} {'x minimal':>9} {'start s':>8} {'REST':>5}"  # noqa: E501


def row(f: Figures, base: Figures | None) -> str:
    cpu_ratio = f"{f.cpu_us_per_frame / base.cpu_us_per_frame:.2f}" if base else "-"
    mem_ratio = f"{f.vm_hwm / base.vm_hwm:.2f}" if base else "-"
    return (
        f"{f.name:<40} {f.cpu_us_per_frame:>12.1f} {cpu_ratio:>9} {f.frames_per_second:>9.0f} "
        f"{f.vm_hwm / MiB:>9.1f} {mem_ratio:>9} {f.start_s:>8.2f} {f.rest:>5}"
    )


def medians(rounds: list[list[Figures]]) -> list[Figures]:
    out = []
    for k, first in enumerate(rounds[0]):
        runs = [r[k] for r in rounds]
        out.append(
            Figures(
                first.name,
                statistics.median(f.cpu_us_per_frame for f in runs),
                statistics.median(f.frames_per_second for f in runs),
                int(statistics.median(f.vm_hwm for f in runs)),
                statistics.median(f.start_s for f in runs),
                int(statistics.median(f.rest for f in runs)),
            )
        )
    return out


def help_times(installations: dict[str, str], runs: int) -> None:
    print(f"\n{'--help wall time':<40} {'median ms':>10}")
    base = statistics.median(timed([sys.executable, "-c", "pass"], runs))
    print(f"{'python -c pass':<40} {base * 1000:>10.1f}")
    for name, exe in installations.items():
        python = str(Path(exe).parent / "python")
        print(f"{name:<40} {statistics.median(timed([python, '-m', 'candlewick', '--help'], runs)) * 1000:>10.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=float, default=8.0, help="seconds after spawn before the window (8)")
    p.add_argument("--window", type=float, default=15.0, help="seconds measured (15)")
    p.add_argument("--push", type=float, default=0.05, help="the fake's push period, seconds (0.05)")
    p.add_argument("--before", help="another installation's candlewick executable, measured the same way")
    p.add_argument("--only", choices=["minimal", "asyncio", "trio"], action="append", help="run only these")
    p.add_argument(
        "--read-interval", type=float, action="append", metavar="SECONDS",
        help="run candlewick with this [sources.hyperliquid] read_interval too (repeatable; default: the default)",
    )  # fmt: skip
    args = p.parse_args()
    mine = str(Path(sys.executable).parent / "candlewick")
    installs = {"candlewick": mine} | ({"candlewick before": args.before} if args.before else {})
    contestants = [Contestant("minimal collector", (sys.executable, str(HERE / "minimal_collector.py")))]
    for label, exe in installs.items():
        for pacing in args.read_interval or [None]:
            suffix = "" if pacing is None else f", read {pacing:g}s"
            contestants += [Contestant(f"{label} ({b}{suffix})", (exe,), b, pacing) for b in ("asyncio", "trio")]
    if args.only:
        contestants = [c for c in contestants if (c.backend or "minimal") in args.only]
    machine = f"{platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{len(COINS)} perps x {', '.join(INTERVALS)}, fake push every {args.push}s; warm-up {args.warmup:g}s, "
          f"window {args.window:g}s, {args.rounds} rounds; {machine}; {when}")  # fmt: skip
    rounds = anyio.run(bench, contestants, args)
    print(f"\nmedian of {args.rounds} rounds (CPU = utime+stime, independent of nice)\n{HEADER}")
    summary = medians(rounds)
    base = summary[0] if summary[0].name == "minimal collector" else None
    for f in summary:
        print(row(f, base))
    help_times(installs, 10)


if __name__ == "__main__":
    main()
