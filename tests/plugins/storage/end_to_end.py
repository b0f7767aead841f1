"""``candlewick run`` as a subprocess against the fake exchange with faults on; the database vs the truth."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from candlewick.model import INTERVAL_MS, Candle
from candlewick.testing import DEFAULT_COINS, FakeExchange

COINS = [c.name for c in DEFAULT_COINS[:2]]
INTERVALS = ["1m", "5m"]
BACKFILL_MS = 3_600_000
ROOT = Path(__file__).resolve().parents[3]

Rows = Callable[[], Awaitable[dict[tuple[str, str, int], Candle]]]
Disturb = Callable[[], Awaitable[None]]


def config(tmp: Path, exchange: FakeExchange, sink_toml: str) -> Path:
    path = tmp / "candlewick.toml"
    path.write_text(
        f"""
[sources.hyperliquid]
ws_url = "{exchange.ws_url}"
rest_url = "{exchange.rest_url}"
coins = {json.dumps(COINS)}
intervals = {json.dumps(INTERVALS)}
backfill_on_start = "1h"
reconnect_initial = 0.2
reconnect_max = 1.0
rest_backoff_initial = 0.2
close_grace = 2.0

{sink_toml}

[buffer.memory]
flush_interval = 0.5
retry_initial = 0.1
retry_max = 0.5

[spool]
dir = "{tmp / "spool"}"

[control]
socket = "{tmp / "control.sock"}"

[daemon]
data_dir = "{tmp / "data"}"
""",
        encoding="utf-8",
    )
    return path


def truth(exchange: FakeExchange, spawn_ms: int, cutoff_ms: int) -> dict[tuple[str, str, int], Candle]:
    """Every candle that closed in the backfill window (minus its boundary candle) before ``cutoff_ms``."""
    out = {}
    for coin in COINS:
        for iv in INTERVALS:
            start = spawn_ms - BACKFILL_MS + INTERVAL_MS[iv]
            for c in exchange.truth(coin, iv, start, cutoff_ms):
                if c.open_time >= start and c.close_time < cutoff_ms:
                    out[c.key] = c
    return out


def same(a: Candle, b: Candle) -> bool:
    """Equal as stored: values exactly as sent, trades, and closed."""
    return (a.open, a.high, a.low, a.close, a.volume, a.trades, a.closed) == (
        b.open, b.high, b.low, b.close, b.volume, b.trades, b.closed,
    )  # fmt: skip


async def run_and_compare(tmp: Path, sink_toml: str, rows: Rows, disturb: Disturb) -> tuple[int, int]:
    """Run the daemon through faults and a storage outage; returns (candles compared, live-closed ones)."""
    log_path = tmp / "daemon.log"
    async with FakeExchange(seed=11, coins=DEFAULT_COINS[:2], push_interval=0.1) as ex:
        ex.faults.duplicates = True
        ex.faults.out_of_order = True
        ex.faults.garbage_rate = 0.05
        ex.faults.rate_limit_requests = 3
        path = config(tmp, ex, sink_toml)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEWICK_")}
        spawn_ms = ex.now_ms()
        with log_path.open("wb") as log:
            proc = await anyio.open_process(
                [sys.executable, "-m", "candlewick", "--config", str(path), "run"],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
            )  # fmt: skip
        try:
            await anyio.sleep(2)
            ex.drop_connections()
            ex.faults.server_error_requests = 3
            with anyio.fail_after(60):  # the storage outage must hit a flowing stream
                while not await rows():
                    assert proc.returncode is None, log_path.read_text()[-3000:]
                    await anyio.sleep(0.2)
            await disturb()
            # Run past the next minute boundary so a live-closed 1m candle is part of the check.
            now_ms = ex.now_ms()
            cutoff_ms = now_ms - now_ms % 60_000 + 60_000 + 1
            while ex.now_ms() < cutoff_ms:
                assert proc.returncode is None, log_path.read_text()[-3000:]
                await anyio.sleep(0.5)
            ex.faults.duplicates = ex.faults.out_of_order = False
            ex.faults.garbage_rate = 0.0
            expected = truth(ex, spawn_ms, cutoff_ms)
            deadline = time.monotonic() + 45
            stored: dict[tuple[str, str, int], Candle] = {}
            while time.monotonic() < deadline:
                assert proc.returncode is None, log_path.read_text()[-3000:]
                stored = await rows()
                if all(k in stored and same(stored[k], c) for k, c in expected.items()):
                    break
                await anyio.sleep(0.5)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                code = await proc.wait()
    text = log_path.read_text()
    assert code == 0, text[-3000:]
    stored = await rows()
    missing = sorted(k for k in expected if k not in stored)
    different = sorted(k for k, c in expected.items() if k in stored and not same(stored[k], c))
    assert not missing, f"{len(missing)} closed candles missing, first {missing[:5]}\n{text[-3000:]}"
    assert not different, f"{len(different)} differ, first {[(stored[k], expected[k]) for k in different[:2]]}"
    live_closed = sum(1 for k in expected if k[1] == "1m" and k[2] >= spawn_ms - spawn_ms % 60_000)
    return len(expected), live_closed
