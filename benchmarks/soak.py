"""Soak run: `candlewick run` against the fake exchange with faults on, for N minutes.

The daemon runs as users run it (a subprocess, SQLite by default, or TimescaleDB); the fake
exchange (``candlewick.testing.FakeExchange``) runs in this process so its truth is at hand.
After a calm warm-up (the baseline), faults go on for ``--minutes``: duplicate and
out-of-order frames, garbage frames, and every ``--fault-period`` seconds a dropped connection
with a 429 burst, a silent stall, and a 500 burst. Then faults go off, the run waits until the
database has every candle that closed before that moment (or ``--settle`` seconds pass), stops
the daemon with SIGTERM, and compares the database with the exchange's truth.

Printed: a sample table (RSS from /proc/<pid>/status, CPU from /proc/<pid>/stat, counters from
the control socket's ``stats``), then a summary: RSS at start, after 1 minute and at the end
(ratios to the start), CPU per frame calm vs faults, reconnects, gaps repaired, completeness %
and mismatches.

Usage::

    python benchmarks/soak.py                              # 10 minutes, SQLite
    python benchmarks/soak.py --minutes 3 --warmup 30
    python benchmarks/soak.py --sink timescaledb --dsn postgresql://postgres@127.0.0.1:5432/postgres

With ``--sink timescaledb`` the DSN names a server and an account allowed to create databases:
the run creates a throwaway ``candlewick_soak_<random>`` database there and drops it at the end
(``--keep`` keeps it, and the work directory).

Exit status: 0 when the run finished with 100% completeness, no mismatches and RSS flat,
1 otherwise (the table says which figure missed).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import anyio
from anyio.abc import Process

from candlewick.control.client import ControlClient
from candlewick.model import INTERVAL_MS, check_interval
from candlewick.testing import DEFAULT_COINS, FakeExchange

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_support import wait_ready
from soak_support import (
    Comparison,
    Key,
    MiB,
    PhaseFigures,
    Sample,
    Values,
    compare,
    phase_figures,
    postgres_rows,
    ranges,
    rss_at,
    slope_per_minute,
    sqlite_rows,
    values_of,
)

#: The issue's targets: RSS at most this, and no growth past this per minute over the run's second half.
RSS_TARGET = 80 * MiB
RSS_SLOPE_LIMIT = 0.5 * MiB
DURATION_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


# -- options -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--minutes", type=float, default=10.0, help="minutes with faults on (default 10)")
    p.add_argument("--warmup", type=float, default=60.0, help="calm seconds before faults, the baseline (default 60)")
    p.add_argument(
        "--settle", type=float, default=120.0, help="most seconds to wait for completeness after faults (120)"
    )
    p.add_argument("--startup", type=float, default=180.0, help="most seconds for the start-up backfill (180)")
    p.add_argument("--sample", type=float, default=5.0, help="seconds between samples (default 5)")
    p.add_argument("--sink", choices=["sqlite", "timescaledb"], default="sqlite")
    p.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres",
                   help="with --sink timescaledb: server and account that may create databases")  # fmt: skip
    p.add_argument(
        "--coins", type=int, default=len(DEFAULT_COINS), help=f"how many of the fake's coins (max {len(DEFAULT_COINS)})"
    )
    p.add_argument("--intervals", default="1m,5m,15m,1h", help="comma-separated intervals (default 1m,5m,15m,1h)")
    p.add_argument("--backfill", default="6h", help="backfill_on_start as a duration like 6h or 2d (default 6h)")
    p.add_argument("--sparse", default="@1", help="comma-separated coins with no-trade minutes (default @1)")
    p.add_argument("--push-interval", type=float, default=0.5, help="fake exchange push period, seconds (0.5)")
    p.add_argument("--fault-period", type=float, default=60.0, help="seconds per drop/stall/error cycle (60)")
    p.add_argument("--garbage-rate", type=float, default=0.05, help="chance of a garbage frame per push round (0.05)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the work directory (and the database)")
    args = p.parse_args(argv)
    for iv in args.intervals.split(","):
        check_interval(iv)
    if args.backfill[-1] not in DURATION_MS or not args.backfill[:-1].isdigit():
        p.error(f"--backfill {args.backfill!r}: give a duration like 90m, 6h or 2d")
    if not 1 <= args.coins <= len(DEFAULT_COINS):
        p.error(f"--coins must be between 1 and {len(DEFAULT_COINS)}")
    return args


def backfill_ms(text: str) -> int:
    return int(text[:-1]) * DURATION_MS[text[-1]]


# -- the daemon's config and database ------------------------------------------------------------


def write_config(path: Path, workdir: Path, exchange: FakeExchange, args: argparse.Namespace, dsn: str | None) -> None:
    coins = [c.name for c in DEFAULT_COINS[: args.coins]]
    sink = (
        f'[sink]\nuse = "timescaledb"\n[sink.timescaledb]\ndsn = "{dsn}"\n'
        if dsn
        else f'[sink]\nuse = "sqlite"\n[sink.sqlite]\npath = "{workdir / "soak.db"}"\n'
    )
    path.write_text(
        f"""# written by benchmarks/soak.py
[sources.hyperliquid]
ws_url = "{exchange.ws_url}"
rest_url = "{exchange.rest_url}"
coins = {json.dumps(coins)}
intervals = {json.dumps(args.intervals.split(","))}
backfill_on_start = "{args.backfill}"

{sink}
[control]
socket = "{workdir / "control.sock"}"

[daemon]
data_dir = "{workdir / "data"}"

[logging]
level = "INFO"
""",
        encoding="utf-8",
    )


def _with_database(dsn: str, name: str) -> str:
    head, _, _ = dsn.rpartition("/")
    return f"{head}/{name}"


async def create_database(admin_dsn: str) -> str:
    import asyncpg

    name = f"candlewick_soak_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, dsn: str) -> None:
    import asyncpg

    name = dsn.rpartition("/")[2]
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def read_rows(
    args: argparse.Namespace, workdir: Path, dsn: str | None
) -> dict[Key, tuple[Values, bool, tuple[str, ...]]]:
    if dsn:
        return await postgres_rows(dsn)
    path = workdir / "soak.db"
    if not path.exists():
        return {}
    return await anyio.to_thread.run_sync(sqlite_rows, path)


def truth_of(
    exchange: FakeExchange, args: argparse.Namespace, spawn_ms: int, cutoff_ms: int
) -> dict[Key, tuple[Values, tuple[str, ...]]]:
    """Every candle that closed before ``cutoff_ms`` from the backfill window's first full candle on."""
    out: dict[Key, tuple[Values, tuple[str, ...]]] = {}
    for spec in DEFAULT_COINS[: args.coins]:
        for iv in args.intervals.split(","):
            # The daemon computes its window a moment after spawn: skip the boundary candle.
            start = spawn_ms - backfill_ms(args.backfill) + INTERVAL_MS[iv]
            for c in exchange.truth(spec.name, iv, start, cutoff_ms):
                if c.open_time >= start and c.close_time < cutoff_ms:
                    text = (c.open, c.high, c.low, c.close, c.volume)
                    out[(c.coin, c.interval, c.open_time)] = (values_of(*text, c.trades), text)
    return out


# -- faults --------------------------------------------------------------------------------------


@dataclass
class FaultLog:
    """What the soak did to the exchange, to set beside what the daemon counted."""

    drops: int = 0
    stalls: int = 0
    rate_limited_bursts: int = 0
    server_error_bursts: int = 0
    events: list[str] = field(default_factory=list)


def faults_on(exchange: FakeExchange, args: argparse.Namespace) -> None:
    exchange.faults.duplicates = True
    exchange.faults.out_of_order = True
    exchange.faults.garbage_rate = args.garbage_rate


def faults_off(exchange: FakeExchange) -> None:
    f = exchange.faults
    f.duplicates = f.out_of_order = f.stall = False
    f.garbage_rate = 0.0
    f.rate_limit_requests = f.server_error_requests = 0


async def fault_driver(exchange: FakeExchange, args: argparse.Namespace, log: FaultLog, started: float) -> None:
    """One cycle per period: drop + 429 burst at 1/6, stall at 7/12, 500 burst at 5/6. Runs until cancelled."""
    period = args.fault_period
    schedule = ((period / 6, "drop"), (period * 7 / 12, "stall"), (period * 5 / 6, "error"))
    cycle = 0
    while True:
        base = cycle * period
        for offset, action in schedule:
            await anyio.sleep(max(0.0, started + base + offset - time.monotonic()))
            at = time.monotonic() - started
            if action == "drop":
                n = exchange.drop_connections()
                exchange.faults.rate_limit_requests = 5
                log.drops += 1
                log.rate_limited_bursts += 1
                log.events.append(f"{at:6.1f}s drop {n} connection(s) + 5x 429")
            elif action == "stall":
                n = exchange.stall_connections()
                log.stalls += 1
                log.events.append(f"{at:6.1f}s stall {n} connection(s)")
            else:
                exchange.faults.server_error_requests = 3
                log.server_error_bursts += 1
                log.events.append(f"{at:6.1f}s 3x 500")
        cycle += 1


# -- the run -------------------------------------------------------------------------------------

HEADER = (
    f"{'t s':>6} {'phase':<7} {'RSS MB':>7} {'CPU %':>6} {'frames':>8} {'fr/s':>6} {'candles':>8} "
    f"{'rows':>7} {'REST w':>6} {'reconn':>6} {'malf':>5} {'gaps rep':>8} {'spool':>5} {'buffer':>6}"
)


def row(s: Sample, prev: Sample | None) -> str:
    dt = s.elapsed - prev.elapsed if prev else 0.0
    cpu = 100 * (s.cpu - prev.cpu) / dt if prev and dt > 0 else 0.0
    fps = (s.frames - prev.frames) / dt if prev and dt > 0 else 0.0
    return (
        f"{s.elapsed:>6.0f} {s.phase:<7} {s.rss / MiB:>7.1f} {cpu:>6.1f} {s.frames:>8} {fps:>6.1f} {s.candles:>8} "
        f"{s.rows:>7} {s.rest_weight:>6} {s.reconnects:>6} {s.malformed:>5} {s.gaps_repaired:>8} "
        f"{s.spool_batches:>5} {s.buffer_depth:>6}"
    )


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    faults: FaultLog = field(default_factory=FaultLog)
    comparison: Comparison | None = None
    settle_seconds: float | None = None
    truth: dict[Key, tuple[Values, tuple[str, ...]]] = field(default_factory=dict)
    exit_code: int | None = None
    shutdown_seconds: float | None = None
    log_levels: dict[str, int] = field(default_factory=dict)
    error: str | None = None


async def soak(args: argparse.Namespace, out: TextIO) -> Run:
    run = Run()
    workdir = Path(tempfile.mkdtemp(prefix="cw-soak-"))
    admin_dsn = args.dsn if args.sink == "timescaledb" else None
    dsn = await create_database(admin_dsn) if admin_dsn else None
    exe = shutil.which("candlewick", path=str(Path(sys.executable).parent)) or "candlewick"
    try:
        async with FakeExchange(
            seed=args.seed, coins=DEFAULT_COINS[: args.coins], push_interval=args.push_interval
        ) as ex:
            ex.model.sparse = {c for c in args.sparse.split(",") if c}
            config = workdir / "candlewick.toml"
            write_config(config, workdir, ex, args, dsn)
            socket = workdir / "control.sock"
            print(f"work dir {workdir}; exchange {ex.rest_url}; sink {args.sink}", file=out)
            with (workdir / "daemon.log").open("wb") as log:
                spawn_ms = ex.now_ms()
                proc = await anyio.open_process(
                    [exe, "--config", str(config), "run"], stdout=log, stderr=subprocess.STDOUT
                )
                try:
                    await wait_ready(socket, proc)
                    await drive(args, ex, proc, socket, run, out, spawn_ms, workdir, dsn)
                except Exception as exc:
                    run.error = f"{type(exc).__name__}: {exc}"
                    traceback.print_exc(file=out)
                finally:
                    run.exit_code, run.shutdown_seconds = await stop(proc)
            if run.comparison is not None and run.error is None:
                # Compare again after the drain: the final word is the database after a clean stop.
                run.comparison = compare(run.truth, await read_rows(args, workdir, dsn), exact_text=True)
        run.log_levels = log_levels(workdir / "daemon.log")
    finally:
        if run.error or run.exit_code not in (0, None):
            tail = (workdir / "daemon.log").read_text(errors="replace").splitlines()[-30:]
            print("--- daemon log (last lines) ---", *tail, sep="\n", file=out)
        if dsn and admin_dsn and not args.keep:
            await drop_database(admin_dsn, dsn)
        if args.keep:
            print(f"kept {workdir}" + (f" and {dsn}" if dsn else ""), file=out)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return run


async def drive(
    args: argparse.Namespace,
    ex: FakeExchange,
    proc: Process,
    socket: Path,
    run: Run,
    out: TextIO,
    spawn_ms: int,
    workdir: Path,
    dsn: str | None,
) -> None:
    async with ControlClient.connect(socket) as client:
        started = time.monotonic()
        print(HEADER, file=out)

        async def sample(phase: str) -> Sample:
            if proc.returncode is not None:
                raise RuntimeError(f"the daemon exited with {proc.returncode} during the {phase} phase")
            stats = await client.call("stats")
            s = Sample.of(time.monotonic() - started, phase, proc.pid, stats)
            print(row(s, run.samples[-1] if run.samples else None), file=out, flush=True)
            run.samples.append(s)
            return s

        async def phase(name: str, seconds: float) -> None:
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0.05:
                await anyio.sleep(min(args.sample, left))
                await sample(name)

        # Start-up: the backfill runs until the REST weight spent stops moving (live data keeps flowing).
        prev = await sample("start")
        deadline = started + args.startup
        while time.monotonic() < deadline:
            await anyio.sleep(args.sample)
            s = await sample("startup")
            if s.rest_weight == prev.rest_weight and s.rest_weight > 0 and not s.spool_batches:
                break
            prev = s

        await phase("calm", args.warmup)

        faults_on(ex, args)
        async with anyio.create_task_group() as tg:
            tg.start_soon(fault_driver, ex, args, run.faults, time.monotonic())
            await phase("faults", args.minutes * 60)
            tg.cancel_scope.cancel()
        faults_off(ex)

        # Settle: everything that closed before the faults stopped must arrive, and frames flow again.
        run.truth = truth = truth_of(ex, args, spawn_ms, ex.now_ms())
        settle_start = time.monotonic()
        deadline = settle_start + args.settle
        prev = run.samples[-1]
        while True:
            await anyio.sleep(args.sample)
            s = await sample("settle")
            run.comparison = compare(truth, await read_rows(args, workdir, dsn), exact_text=True)
            live = s.frames > prev.frames
            if (run.comparison.equal == run.comparison.expected and live) or time.monotonic() >= deadline:
                break
            prev = s
        run.settle_seconds = time.monotonic() - settle_start


async def stop(proc: Process, grace: float = 30.0) -> tuple[int | None, float | None]:
    """SIGTERM, then wait for the drain; SIGKILL after ``grace`` seconds."""
    if proc.returncode is not None:
        return proc.returncode, None
    begin = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    with anyio.move_on_after(grace):
        code = await proc.wait()
        return code, time.monotonic() - begin
    proc.kill()
    await proc.wait()
    return None, None


def log_levels(path: Path) -> dict[str, int]:
    """How many lines of the daemon's text log carry each level."""
    counts: dict[str, int] = {}
    for text in path.read_text(errors="replace").splitlines():
        parts = text.split(" ", 3)
        if len(parts) > 2 and parts[2] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            counts[parts[2]] = counts.get(parts[2], 0) + 1
    return counts


# -- the report ----------------------------------------------------------------------------------


def report(run: Run, args: argparse.Namespace, out: TextIO) -> bool:
    """Print the summary; True when every figure met its target."""
    samples = run.samples
    ok = run.error is None
    print("", file=out)
    if run.error:
        print(f"RUN FAILED: {run.error}", file=out)
    if not samples:
        return False
    print("faults injected: " + "; ".join(run.faults.events or ["none"]), file=out)
    start, minute, end = samples[0].rss, rss_at(samples, 60.0), samples[-1].rss
    peak = max(s.rss for s in samples)
    half = [s for s in samples if s.elapsed >= samples[-1].elapsed / 2]
    slope = slope_per_minute([(s.elapsed, s.rss) for s in half])
    flat = peak <= RSS_TARGET and slope <= RSS_SLOPE_LIMIT
    ok &= flat
    calm, faulty = phase_figures(samples, "calm"), phase_figures(samples, "faults")
    last = samples[-1]

    def line(name: str, value: str, ratio: str = "", verdict: str = "") -> None:
        print(f"{name:<40} {value:>16} {ratio:>12}  {verdict}", file=out)

    print(f"\n{'figure':<40} {'value':>16} {'vs baseline':>12}", file=out)
    line("RSS at start (daemon ready)", f"{start / MiB:.1f} MB", "1.00x")
    line("RSS after 1 minute", f"{minute / MiB:.1f} MB", f"{minute / start:.2f}x")
    line("RSS at the end", f"{end / MiB:.1f} MB", f"{end / start:.2f}x")
    line("RSS peak", f"{peak / MiB:.1f} MB", f"{peak / start:.2f}x", "ok" if peak <= RSS_TARGET else "over 80 MB")
    line("RSS slope, second half", f"{slope / MiB:+.2f} MB/min", "", "flat" if slope <= RSS_SLOPE_LIMIT else "GROWING")
    for fig in (calm, faulty):
        if fig is None:
            continue
        ratio = _ratio(fig, calm)
        per_frame = f"{fig.cpu_us_per_frame:.0f} us" if fig.cpu_us_per_frame is not None else "n/a"
        line(f"CPU per frame, {fig.name} (baseline: calm)", per_frame, ratio)
        line(f"throughput, {fig.name}", f"{fig.frames_per_second:.1f} frames/s", _fps_ratio(fig, calm))
        line(f"CPU, {fig.name}", f"{fig.cpu_percent:.1f} % of a core")
        line(f"rows written, {fig.name}", f"{fig.rows / fig.seconds:.1f} rows/s" if fig.seconds else "n/a")
    line("frames / candle updates / rows (total)", f"{last.frames}/{last.candles}/{last.rows}")
    line("reconnects (daemon) vs drops+stalls", f"{last.reconnects}", f"{run.faults.drops + run.faults.stalls} caused")
    line("malformed frames counted", f"{last.malformed}")
    line("gaps found / repaired", f"{last.gaps_found}/{last.gaps_repaired}")
    line("permanent losses", f"{last.permanent_losses}")
    if run.settle_seconds is not None and run.comparison is not None:
        done = run.comparison.equal == run.comparison.expected
        label = "complete again after faults off" if done else "NOT complete after faults off"
        line(label, f"{run.settle_seconds:.1f} s")
    if run.shutdown_seconds is not None:
        line("SIGTERM to exit (drain)", f"{run.shutdown_seconds:.1f} s", "", f"exit {run.exit_code}")
    else:
        line("SIGTERM to exit (drain)", "killed or gone", "", f"exit {run.exit_code}")
    ok &= run.exit_code == 0
    levels = run.log_levels
    line("daemon log lines WARNING / ERROR", f"{levels.get('WARNING', 0)} / {levels.get('ERROR', 0)}")
    c = run.comparison
    if c is not None:
        complete = c.equal == c.expected and not c.mismatches
        ok &= complete
        line("closed candles expected (truth)", f"{c.expected}")
        line("completeness", f"{c.completeness:.3f} %", "", "ok" if complete else "INCOMPLETE")
        line("mismatches (values differ)", f"{len(c.mismatches)}")
        line("  of which closed with missing trades", f"{c.stale}")
        line("stored but still open", f"{len(c.not_closed)}")
        line("equal as decimals, text differs", f"{c.text_differs}")
        line("closed rows the exchange never served", f"{c.extra}")
        if c.missing:
            print(f"missing: {ranges(c.missing)}", file=out)
        for m in c.mismatches[:5]:
            print(f"mismatch: {m}", file=out)
    print(f"\nverdict: {'PASS' if ok else 'FAIL'}", file=out)
    return ok


def _ratio(fig: PhaseFigures, base: PhaseFigures | None) -> str:
    if base is None or not base.cpu_us_per_frame or fig.cpu_us_per_frame is None:
        return ""
    return f"{fig.cpu_us_per_frame / base.cpu_us_per_frame:.2f}x"


def _fps_ratio(fig: PhaseFigures, base: PhaseFigures | None) -> str:
    if base is None or not base.frames_per_second:
        return ""
    return f"{fig.frames_per_second / base.frames_per_second:.2f}x"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.pop("CANDLEWICK_CONFIG", None)
    run = anyio.run(soak, args, sys.stdout)
    return 0 if report(run, args, sys.stdout) else 1


if __name__ == "__main__":
    sys.exit(main())
