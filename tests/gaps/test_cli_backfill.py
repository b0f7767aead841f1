"""``candlewick backfill`` as users run it: a subprocess against the fake exchange and SQLite."""

from __future__ import annotations

import os
import signal
import sqlite3
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from candlewick.testing import FakeExchange

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The commands run in subprocesses; the test side only waits for them."""
    return "asyncio"


TIMEOUT = 60


@dataclass
class Setup:
    exchange: FakeExchange
    tmp: Path

    @property
    def db(self) -> Path:
        return self.tmp / "candles.db"

    @property
    def socket(self) -> Path:
        return self.tmp / "control.sock"

    def config(self, **source: Any) -> Path:
        options = {"ws_url": self.exchange.ws_url, "rest_url": self.exchange.rest_url, "coins": ["BTC"]}
        options.update(source)
        lines = ["[sources.hyperliquid]"]
        for key, value in options.items():
            lines.append(f"{key} = {_toml(value)}")
        lines += [
            "[sink]", 'use = "sqlite"', "[sink.sqlite]", f'path = "{self.db}"', 'synchronous = "NORMAL"',
            "[spool]", f'dir = "{self.tmp / "spool"}"',
            "[daemon]", f'data_dir = "{self.tmp / "data"}"',
            "[control]", f'socket = "{self.socket}"',
        ]  # fmt: skip
        path = self.tmp / "candlewick.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def rows(self, interval: str) -> list[tuple[Any, ...]]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                return conn.execute(
                    "SELECT time, open, high, low, close, volume, trades FROM candles"
                    " WHERE coin='BTC' AND interval=? AND closed=1 ORDER BY time",
                    (interval,),
                ).fetchall()
            except sqlite3.OperationalError:  # the sink has not created the table yet
                return []

    def truth(self, interval: str, start: int, end: int) -> list[tuple[Any, ...]]:
        return [
            (c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades)
            for c in self.exchange.truth("BTC", interval, start, end)
        ]


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    async with FakeExchange(seed=3) as exchange:
        yield Setup(exchange, tmp_path)


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "candlewick", "-c", str(config), "--log-level", "WARNING", *args]


async def run(cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
    with anyio.fail_after(TIMEOUT):
        return await anyio.run_process(cmd, check=False, env={**os.environ, "NO_COLOR": "1"})


async def test_standalone_backfill_stores_exactly_what_the_exchange_has(setup: Setup) -> None:
    """No daemon: the command builds buffer and sink from the config, fetches, exits 0."""
    config = setup.config()
    result = await run(command(config, "backfill", "--coin", "BTC", "--intervals", "1h", "4h", "--days", "max"))
    assert result.returncode == 0, result.stderr.decode()
    assert b"running standalone" in result.stderr
    out = result.stdout.decode()
    assert "1h" in out
    assert "4h" in out
    assert "done" in out
    for interval in ("1h", "4h"):
        rows = setup.rows(interval)
        assert len(rows) > 100
        assert rows == setup.truth(interval, rows[0][0], rows[-1][0])


async def test_a_second_run_fetches_nothing_new(setup: Setup) -> None:
    """What the sink already holds is not fetched again."""
    config = setup.config()
    args = command(config, "backfill", "--coin", "BTC", "--intervals", "1d", "--days", "30", "--standalone")
    assert (await run(args)).returncode == 0
    before = setup.exchange.stats.rest_by_type.get("candleSnapshot", 0)
    again = await run(args)
    assert again.returncode == 0
    assert setup.exchange.stats.rest_by_type.get("candleSnapshot", 0) == before
    assert "0/0" in again.stdout.decode()


async def test_unknown_coin_is_a_usage_error(setup: Setup) -> None:
    """A coin the exchange does not list: exit 2 with close matches."""
    result = await run(command(setup.config(), "backfill", "--coin", "BTX", "--intervals", "1h", "--days", "1"))
    assert result.returncode == 2
    assert b"BTC" in result.stderr


async def test_bad_interval_and_days_are_usage_errors(setup: Setup) -> None:
    """Arguments are checked before anything runs."""
    config = setup.config()
    bad_interval = await run(command(config, "backfill", "--coin", "BTC", "--intervals", "7m", "--days", "1"))
    assert bad_interval.returncode == 2
    assert b"7m" in bad_interval.stderr
    bad_days = await run(command(config, "backfill", "--coin", "BTC", "--intervals", "1h", "--days", "-3"))
    assert bad_days.returncode == 2


async def test_unreachable_exchange_exits_1(setup: Setup, tmp_path: Path) -> None:
    """When the exchange cannot be reached the command fails with one clear line."""
    config = setup.config(rest_url="http://127.0.0.1:9", rest_retries=0)
    result = await run(command(config, "backfill", "--coin", "BTC", "--intervals", "1h", "--days", "1"))
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr


async def test_interrupt_exits_130_and_keeps_what_was_fetched(setup: Setup) -> None:
    """Ctrl-C stops the run; candles already fetched are written, not lost."""
    # Two full pages of about 104 weight each against 120 weight/min: whichever interval's page
    # comes first, the other waits about 50 s for budget, so the run is still going when it is
    # interrupted. The two jobs share the budget, and which one gets it first is up to the scheduler.
    config = setup.config(rest_weight_per_minute=120)
    cmd = command(config, "backfill", "--coin", "BTC", "--intervals", "1h", "4h", "--days", "max", "--standalone")
    with anyio.fail_after(TIMEOUT):
        async with await anyio.open_process(cmd) as proc:
            while not any(len(setup.rows(interval)) >= 100 for interval in ("1h", "4h")):
                await anyio.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            code = await proc.wait()
    assert code == 130
    written = [interval for interval in ("1h", "4h") if setup.rows(interval)]
    assert written
    for interval in written:
        rows = setup.rows(interval)
        assert rows == setup.truth(interval, rows[0][0], rows[-1][0])


@asynccontextmanager
async def running_daemon(setup: Setup, config: Path) -> AsyncIterator[Process]:
    """``candlewick run`` with ``config`` until the block ends (SIGTERM), once its socket is up."""
    with anyio.fail_after(TIMEOUT):
        async with await anyio.open_process(command(config, "run")) as daemon:
            try:
                while not setup.socket.exists():
                    await anyio.sleep(0.1)
                yield daemon
            finally:
                daemon.send_signal(signal.SIGTERM)
                await daemon.wait()


async def test_via_daemon_submits_the_jobs_and_follows_them(setup: Setup) -> None:
    """With a daemon running, the command submits over the control socket and exits 0 when done."""
    config = setup.config(intervals=["1m"], backfill_on_start="none")
    async with running_daemon(setup, config):
        args = ("backfill", "--coin", "BTC", "--intervals", "1h", "--days", "10", "--via-daemon")
        result = await run(command(config, *args))
        assert result.returncode == 0, result.stderr.decode()
        assert b"submitted to the daemon" in result.stderr
        rows = setup.rows("1h")
        assert len(rows) >= 239
        assert rows == setup.truth("1h", rows[0][0], rows[-1][0])


async def test_via_daemon_without_a_daemon_exits_1(setup: Setup) -> None:
    """``--via-daemon`` never falls back to running standalone."""
    args = ("backfill", "--coin", "BTC", "--intervals", "1h", "--days", "1", "--via-daemon")
    result = await run(command(setup.config(), *args))
    assert result.returncode == 1
    assert not setup.db.exists()


#: The fake's self-signed certificate for 127.0.0.1 (the TLS tests of the live source use it too).
TLS_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hyperliquid"


async def test_standalone_backfill_trusts_ca_file(tmp_path: Path) -> None:
    """Standalone over https: the REST client honours ca_file, as the live source does."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS_FIXTURES / "tls-cert.pem", TLS_FIXTURES / "tls-key.pem")
    async with FakeExchange(seed=3, ssl_context=context) as exchange:
        assert exchange.rest_url.startswith("https://")
        setup = Setup(exchange, tmp_path)
        config = setup.config(ca_file=str(TLS_FIXTURES / "tls-cert.pem"), rest_retries=0)
        args = ("backfill", "--coin", "BTC", "--intervals", "1d", "--days", "30", "--standalone")
        result = await run(command(config, *args))
        assert result.returncode == 0, result.stderr.decode()
        rows = setup.rows("1d")
        assert len(rows) >= 29
        assert rows == setup.truth("1d", rows[0][0], rows[-1][0])


async def test_standalone_beside_a_running_daemon_is_refused_before_fetching(setup: Setup) -> None:
    """Same data as a running daemon: refused at once, naming its pid and --via-daemon, no REST weight spent."""
    config = setup.config(intervals=["1m"], backfill_on_start="none")
    async with running_daemon(setup, config) as daemon:
        before = setup.exchange.stats.rest_by_type.get("candleSnapshot", 0)
        args = ("backfill", "--coin", "BTC", "--intervals", "1h", "--days", "max", "--standalone")
        with anyio.fail_after(15):
            result = await run(command(config, *args))
        stderr = result.stderr.decode()
        assert result.returncode == 2, stderr
        assert f"pid {daemon.pid}" in stderr
        assert "--via-daemon" in stderr
        assert setup.exchange.stats.rest_by_type.get("candleSnapshot", 0) == before
