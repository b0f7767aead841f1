"""End to end: ``candlewick run`` with its wall clock 2 min fast against ``candlewick simulate``.

libfaketime shifts the daemon's wall clock only (``FAKETIME_DONT_FAKE_MONOTONIC=1``: the
monotonic clock runs on, as under NTP) and reads the shift from a file, so the test can step
it back while the daemon runs. (libfaketime 0.9.10 then fails ``time.sleep`` with EINVAL;
the daemon never calls it.)
"""

from __future__ import annotations

import glob
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from candlewick.model import MINUTE_MS, close_time, open_time
from candlewick.testing import FakeExchange

from .conftest import Running, candlewick, candlewick_env

pytestmark = pytest.mark.slow

#: How far the daemon's wall clock runs ahead at first (seconds).
AHEAD = 120
SEED = 4


def libfaketime() -> str:
    """The preload library; under CI its absence fails the test (.ci/run installs it), else it skips."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1") + glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    if found:
        return found[0]
    if os.environ.get("CI"):
        pytest.fail("libfaketime is missing under CI: .ci/run installs it (apt-get install -y faketime libfaketime)")
    pytest.skip("libfaketime is not installed (Debian: apt-get install -y faketime libfaketime)")


@contextmanager
def simulate() -> Iterator[dict[str, str]]:
    """``candlewick simulate`` on a free port (the real clock: the exchange's time); yields its URLs."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "candlewick", "simulate", "--port", "0", "--seed", str(SEED), "--coins", "BTC"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        lines = [sim.stdout.readline() for _ in range(4)]
        yield dict(line.strip().split(" = ") for line in lines if " = " in line)
    finally:
        sim.terminate()
        sim.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()


def ctl(socket: Path, method: str, env: dict[str, str]) -> dict[str, Any]:
    done = candlewick("ctl", "--socket", str(socket), "--json", method, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def closed_rows(db: Path) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute(
                "SELECT time, open, high, low, close, volume, trades FROM candles"
                " WHERE coin = 'BTC' AND interval = '1m' AND closed = 1 ORDER BY time"
            ).fetchall()
        except sqlite3.OperationalError:  # no table yet
            return []


def test_a_daemon_with_a_fast_wall_clock_closes_nothing_early(tmp_path: Path, run_daemon: type[Running]) -> None:
    """No candle is stored closed before the exchange closes it, and every closed row is final;
    status and health show the offset; NTP stepping the clock back while running is followed at once."""
    preload = libfaketime()
    shift = tmp_path / "faketime"
    shift.write_text(f"+{AHEAD}s\n")
    truth = FakeExchange(seed=SEED)  # not served: the same deterministic candles as the simulator's
    db, socket = tmp_path / "candles.db", tmp_path / "control.sock"
    with simulate() as urls:
        config = tmp_path / "candlewick.toml"
        config.write_text(
            f"[sources.hyperliquid]\nws_url = {urls['ws_url']}\nrest_url = {urls['rest_url']}\n"
            'coins = ["BTC"]\nintervals = ["1m"]\nbackfill_on_start = "10m"\n'
            f'[sink.sqlite]\npath = "{db}"\n[daemon]\ndata_dir = "{tmp_path / "data"}"\n'
            f'[control]\nsocket = "{socket}"\n'
        )
        env = candlewick_env()
        daemon_env = {
            **env,
            "LD_PRELOAD": preload,
            "FAKETIME_TIMESTAMP_FILE": str(shift),
            "FAKETIME_CACHE_DURATION": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }
        started = int(time.time() * 1000)
        daemon = run_daemon.start(config, daemon_env, tmp_path)
        checked: set[int] = set()
        status: dict[str, Any] | None = None
        health: dict[str, Any] = {}
        stepped_at: float | None = None
        deadline = time.monotonic() + 100
        while time.monotonic() < deadline:
            time.sleep(0.2)
            assert daemon.proc.poll() is None, daemon.proc.communicate()[1]
            now = int(time.time() * 1000)  # the exchange's clock
            for row in closed_rows(db):
                t = row[0]
                if t in checked:
                    continue
                assert close_time("1m", t) < now, f"candle {t} stored closed {close_time('1m', t) - now} ms early"
                [final] = truth.truth("BTC", "1m", t, t)
                assert row[1:] == (final.open, final.high, final.low, final.close, final.volume, final.trades)
                checked.add(t)
            if status is None and socket.exists() and checked:
                answer = ctl(socket, "status", env)
                if answer["clock_offset_ms"] is not None:  # measured once the source has looked
                    status, health = answer, ctl(socket, "health", env)
            live = [t for t in checked if t >= open_time("1m", started)]
            if live and status is not None and stepped_at is None:
                shift.write_text("+0s\n")  # NTP sets the clock right while the daemon runs
                stepped_at = time.monotonic()
            if stepped_at is not None and time.monotonic() - stepped_at > 3:
                break
        assert status is not None, "the daemon never answered status"
        assert live, f"no candle open at start was closed within the run (closed: {sorted(checked)})"
        assert checked >= set(range(open_time("1m", started) - 9 * MINUTE_MS, max(checked) + 1, MINUTE_MS))
        after = ctl(socket, "status", env)
        code, err, _ = daemon.stop()
    assert abs(status["clock_offset_ms"] - AHEAD * 1000) <= 1500, status["clock"]
    assert status["clock"]["ok"] is False
    [check] = [c for c in health["checks"] if c["name"] == "clock:hyperliquid"]
    assert check["ok"] is False
    assert "ahead of the exchange" in check["detail"]
    assert "fix NTP" in check["detail"]
    assert health["status"] == "degraded"
    assert abs(after["clock_offset_ms"]) <= 1500, after["clock"]
    assert code == 0, err
    assert "the local clock stepped -120" in err
