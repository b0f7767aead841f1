"""Figures of the plugin author's kit: compliance suites, scaffold, and the event-loop watchdog.

1. Wall time of each compliance suite against our own plugins (a pytest subprocess per test
   module, asyncio and trio where the plugin runs on both), with the ratio to the fastest.
2. ``candlewick plugin new`` to a green test run in a fresh venv (no index, no build isolation),
   by stage.
3. The watchdog of ``[daemon] block_warning_ms``: the cost of a busy loop of checkpoints with
   it on, against the same loop without it (baseline), and how long after a stall starts the
   warning comes, against the threshold.

Usage: python benchmarks/plugin_kit.py [--skip-suites] [--skip-scaffold] [--skip-watchdog]
Needs the PostgreSQL of the test setup for the TimescaleDB sink suite.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from candlewick.runtime.blockwatch import BlockWatch

ROOT = Path(__file__).resolve().parent.parent
SUITES = [
    ("source", "hyperliquid", "tests/compliance/test_hyperliquid_source.py"),
    ("source", "ticker", "tests/compliance/test_ticker_source.py"),
    ("sink", "sqlite", "tests/compliance/test_sqlite_sink.py"),
    ("sink", "timescaledb", "tests/compliance/test_timescaledb_sink.py"),
    ("buffer", "memory", "tests/compliance/test_memory_buffer.py"),
]


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def suites() -> None:
    results = []
    for suite, plugin, path in SUITES:
        start = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        took = time.monotonic() - start
        tail = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-200:]
        counts = ", ".join(re.findall(r"\d+ (?:passed|failed|skipped|error)", tail)) or tail
        results.append((suite, plugin, counts, took))
    fastest = min(r[3] for r in results)
    rows = [(s, p, c, f"{t:.1f}", f"{t / fastest:.1f}x") for s, p, c, t in results]
    print(table(("suite", "plugin", "tests (both backends)", "seconds", "vs fastest"), rows))


def scaffold() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.scaffold.fresh import FreshVenv

    with tempfile.TemporaryDirectory() as tmp:
        stages: list[tuple[str, float]] = []
        t0 = time.monotonic()
        where = Path(tmp) / "plugin"
        subprocess.run([sys.executable, "-m", "candlewick", "plugin", "new", "bench", "--kind", "source",
                        "--dir", str(where)], check=True, capture_output=True)  # fmt: skip
        stages.append(("plugin new", time.monotonic() - t0))
        venv = FreshVenv(Path(tmp) / "venv")
        stages.append(("python -m venv", time.monotonic() - t0))
        assert venv.pip_install(where).returncode == 0
        stages.append(("pip install", time.monotonic() - t0))
        tested = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=where)
        assert tested.returncode == 0, tested.stdout
        stages.append(("pytest green", time.monotonic() - t0))
    rows, last = [], 0.0
    for name, at in stages:
        rows.append((name, f"{at - last:.2f}", f"{at:.2f}"))
        last = at
    print(table(("scaffold stage", "seconds", "cumulative"), rows))


async def busy_loop(rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        await anyio.lowlevel.checkpoint()
    return time.perf_counter() - start


async def overhead(threshold: float, rounds: int = 100_000, repeats: int = 7) -> tuple[float, float]:
    """Best of ``repeats`` runs of the busy loop without and with the watchdog, interleaved."""
    off = on = float("inf")
    for _ in range(repeats):
        off = min(off, await busy_loop(rounds))
        watch = BlockWatch(threshold, {})
        async with anyio.create_task_group() as tg:
            await tg.start(watch.run)
            on = min(on, await busy_loop(rounds))
            tg.cancel_scope.cancel()
    return off, on


class Stamp(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING and self.at is None:
            self.at = time.monotonic()


async def latency(threshold: float, tries: int = 5) -> list[float]:
    stamp = Stamp()
    logger = logging.getLogger("candlewick.runtime.blockwatch")
    logger.addHandler(stamp)
    logger.propagate = False
    out = []
    watch = BlockWatch(threshold, {})
    async with anyio.create_task_group() as tg:
        await tg.start(watch.run)
        for _ in range(tries):
            await anyio.sleep(threshold)
            stamp.at = None
            began = time.monotonic()
            time.sleep(threshold * 3)  # noqa: ASYNC251  (the stall being measured)
            await anyio.sleep(threshold / 2)
            if stamp.at is not None:
                out.append(stamp.at - began)
        tg.cancel_scope.cancel()
    logger.removeHandler(stamp)
    return out


def watchdog() -> None:
    rows = []
    for backend in ("asyncio", "trio"):
        for ms in (250, 50):
            off, on = anyio.run(overhead, ms / 1000, backend=backend)
            seen = anyio.run(latency, ms / 1000, backend=backend)
            rows.append((
                backend, f"{ms}", f"{off * 1e3:.0f}", f"{on * 1e3:.0f}", f"{on / off:.3f}x",
                f"{statistics.median(seen) * 1e3:.0f}" if seen else "-", f"{max(seen) * 1e3:.0f}" if seen else "-",
                f"{len(seen)}/5",
            ))  # fmt: skip
    print(table(("backend", "threshold ms", "100k checkpoints ms, off", "on", "on/off",
                 "warning after ms (median)", "(max)", "stalls caught"), rows))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-suites", action="store_true")
    parser.add_argument("--skip-scaffold", action="store_true")
    parser.add_argument("--skip-watchdog", action="store_true")
    args = parser.parse_args()
    if not args.skip_watchdog:
        watchdog()
        print()
    if not args.skip_scaffold:
        scaffold()
        print()
    if not args.skip_suites:
        suites()


if __name__ == "__main__":
    main()
