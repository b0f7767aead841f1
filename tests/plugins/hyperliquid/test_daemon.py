"""The real daemon collects live and historical candles from the fake exchange into SQLite."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from candlewick.config import Settings
from candlewick.errors import SinkUnavailable
from candlewick.model import open_time
from candlewick.plugin import Sink
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime import names
from candlewick.runtime.daemon import Daemon
from candlewick.testing import FakeExchange, ScaledClock
from candlewick.testing.daemon import running_daemon


def _settings(exchange: FakeExchange, tmp_path: Path, **source: object) -> Settings:
    return Settings.model_validate(
        {
            "sources": {
                "hyperliquid": {
                    "ws_url": exchange.ws_url,
                    "rest_url": exchange.rest_url,
                    "coins": ["BTC"],
                    "intervals": ["1m", "5m"],
                    "backfill_on_start": "2h",
                    **source,
                }
            },
            "sink": {"use": "sqlite", "sqlite": {"path": str(tmp_path / "candles.db")}},
            "daemon": {"data_dir": tmp_path / "data", "shutdown_timeout": 5},
        }
    )


@pytest.mark.anyio
async def test_daemon_collects_history_and_live_candles(tmp_path: Path, anyio_backend: str) -> None:
    """On a 60x clock: 2 h of history over REST, then live candles closing each minute, all equal to the truth."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=11, clock=clock, push_interval=1.0) as exchange:
        daemon = Daemon(_settings(exchange, tmp_path), build_plugin_manager(), clock=clock, backend=anyio_backend)
        daemon.build()
        started = exchange.now_ms()
        async with running_daemon(daemon):
            sink = daemon.component("sqlite")
            assert isinstance(sink, Sink)

            async def live_closed() -> list[int]:
                try:
                    times = await sink.open_times("BTC", "1m", started, exchange.now_ms())
                except SinkUnavailable:  # not open yet
                    return []
                return [t for t in times if t > open_time("1m", started)]

            with anyio.fail_after(20):
                while len(await live_closed()) < 3:
                    await anyio.sleep(0.1)
            now = exchange.now_ms()
            stored = {c.open_time: c for c in await sink.recent("BTC", "1m", 500) if c.closed}
            truth = exchange.truth("BTC", "1m", now - 2 * 3_600_000, now - 60_000 * 2)
            assert len(truth) >= 118
            for candle in truth:
                got = stored[candle.open_time]
                assert (got.open, got.high, got.low, got.close, got.volume, got.trades) == (
                    candle.open, candle.high, candle.low, candle.close, candle.volume, candle.trades,
                )  # fmt: skip
            five = await sink.open_times("BTC", "5m", now - 2 * 3_600_000, now)
            assert len(five) >= 23
            metrics = daemon.telemetry.metrics
            assert metrics.value(names.CANDLES_IN, source="hyperliquid", coin="BTC", interval="1m") > 0
            # The history took REST weight; the per-minute figure only counts the last 60 s (of the 60x clock).
            spent = metrics.total(names.REST_WEIGHT_USED)
            assert spent >= exchange.stats.rest_weight > 0
            assert 0 <= metrics.value(names.REST_WEIGHT_LAST_MINUTE) < spent
            connected = [e for e in daemon.telemetry.events.recent(500) if e.kind == names.EV_CONNECTED]
            assert [e.source for e in connected].count("hyperliquid") == 1
        assert daemon.exit_code == 0


@pytest.mark.anyio
async def test_unknown_coin_fails_the_source_without_retrying(tmp_path: Path, anyio_backend: str) -> None:
    """An unknown coin marks the source failed with the close matches; it is not restarted."""
    async with FakeExchange(seed=1) as exchange:
        settings = _settings(exchange, tmp_path, coins=["ETHH"])
        daemon = Daemon(settings, build_plugin_manager(), backend=anyio_backend)
        daemon.build()
        async with running_daemon(daemon):
            child = daemon.supervisor.child("hyperliquid")
            with anyio.fail_after(5):
                while str(child.state) != "failed":
                    await anyio.sleep(0.02)
            await anyio.sleep(0.3)
            assert child.restarts == 0
            assert child.last_error is not None
            assert "unknown coin 'ETHH'; close matches: ETH" in child.last_error.message
            assert exchange.stats.rest_by_type == {"meta": 1, "spotMeta": 1}


@pytest.mark.slow
def test_candlewick_run_against_candlewick_simulate(tmp_path: Path) -> None:
    """The CLI as users run it: `candlewick simulate` plus `candlewick run` fill the SQLite file."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "candlewick", "simulate", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    run: subprocess.Popen[str] | None = None
    try:
        assert sim.stdout is not None
        lines = [sim.stdout.readline() for _ in range(4)]
        urls = dict(line.strip().split(" = ") for line in lines if " = " in line)
        db = tmp_path / "candles.db"
        config = tmp_path / "candlewick.toml"
        config.write_text(
            f"[sources.hyperliquid]\nws_url = {urls['ws_url']}\nrest_url = {urls['rest_url']}\n"
            'coins = ["BTC"]\nintervals = ["1m", "1h"]\nbackfill_on_start = "max"\n'
            f'[sink.sqlite]\npath = "{db}"\n[daemon]\ndata_dir = "{tmp_path / "data"}"\n'
            f'[control]\nsocket = "{tmp_path / "control.sock"}"\n'
        )
        env = {**os.environ, "CANDLEWICK_CONFIG": str(config)}
        run = subprocess.Popen([sys.executable, "-m", "candlewick", "run"], env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        counts: dict[str, int] = {}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        rows = conn.execute('SELECT "interval", count(*) FROM candles GROUP BY "interval"').fetchall()
                    except sqlite3.OperationalError:
                        continue
                counts = dict(rows)
                if counts.get("1m", 0) >= 5000 and counts.get("1h", 0) >= 5000:
                    break
        assert counts.get("1m") == 5000
        assert counts.get("1h") == 5000
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=20)
        assert run.returncode == 0, err
        with sqlite3.connect(db) as conn:
            newest, closed = conn.execute(
                'SELECT "time", closed FROM candles WHERE "interval" = \'1m\' ORDER BY "time" DESC LIMIT 1'
            ).fetchone()
        assert (
            newest == open_time("1m", int(time.time() * 1000))
            or newest == open_time("1m", int(time.time() * 1000)) - 60_000
        )
        assert closed in (0, 1)
    finally:
        for proc in (run, sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()
        if run is not None and run.stderr is not None:
            run.stderr.close()
