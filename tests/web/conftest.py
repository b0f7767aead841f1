"""A real daemon (fake exchange, fast clock, SQLite or TimescaleDB sink) serving the web API on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sniffio

from candlewick.config import Settings
from candlewick.model import Candle
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.services import default_services
from candlewick.testing import FakeExchange, ScaledClock
from candlewick.testing.daemon import running_daemon
from candlewick.web.service import WebServer
from tests.gaps.conftest import LIVE, SPEED
from tests.plugins.storage.helpers import sqlite_sink
from tests.plugins.storage.helpers import start as start_component

TOKEN = "correct-horse-battery-staple"


@dataclass
class WebRig:
    """The fake exchange, a shared fast clock, and a folder for one daemon's files."""

    exchange: FakeExchange
    clock: ScaledClock
    tmp: Path

    @property
    def db(self) -> Path:
        return self.tmp / "c.db"

    def settings(self, *, web: dict[str, Any] | None = None, sink: dict[str, Any] | None = None) -> Settings:
        source = {**LIVE, "ws_url": self.exchange.ws_url, "rest_url": self.exchange.rest_url, "coins": ["BTC", "ETH"]}
        return Settings.model_validate(
            {
                "sources": {"hyperliquid": source},
                "sink": sink or {"use": "sqlite", "sqlite": {"path": str(self.db), "synchronous": "NORMAL"}},
                "buffer": {"use": "memory", "memory": {"flush_interval": 1.0}},
                "control": {"socket": str(self.tmp / "s" / "c.sock")},
                "web": {"listen": "127.0.0.1:0", **(web or {})},
                "daemon": {"data_dir": self.tmp / "data", "shutdown_timeout": 60.0},
            }
        )

    @asynccontextmanager
    async def daemon(self, settings: Settings) -> AsyncIterator[Daemon]:
        """Run the daemon with its services until the block ends, then shut it down."""
        daemon = Daemon(
            settings,
            build_plugin_manager(),
            clock=self.clock,
            backend=sniffio.current_async_library(),
            services=default_services(),
        )
        daemon.build()
        async with running_daemon(daemon):
            yield daemon

    @asynccontextmanager
    async def client(self, daemon: Daemon, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client of the daemon's web service, once it listens."""
        web = daemon.components["web"]
        assert isinstance(web, WebServer)
        with anyio.fail_after(10):
            while web.port is None:
                await anyio.sleep(0.02)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{web.port}", timeout=10, **kwargs) as client:
            yield client


async def seeded(rig: WebRig, hours: int = 10) -> list[Candle]:
    """Store the exchange's last ``hours`` of closed BTC 1m candles through the real SQLite sink."""
    now = rig.exchange.now_ms()
    start = now - now % 60_000 - hours * 3_600_000
    candles = [c.as_closed() for c in rig.exchange.truth("BTC", "1m", start, now)]
    sink = sqlite_sink(rig.db, clock=rig.clock)
    async with anyio.create_task_group() as tg:
        await start_component(tg, sink)
        await sink.write(candles)
        tg.cancel_scope.cancel()
    return candles


def rows_of(candles: list[Candle]) -> list[list[Any]]:
    """Candles as the API's JSON rows."""
    return [[c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades, c.closed] for c in candles]


async def wait_for(what: Any, *, timeout: float = 30.0, step: float = 0.05) -> None:
    """Poll the async ``what()`` until it returns something true."""
    with anyio.fail_after(timeout):
        while not await what():
            await anyio.sleep(step)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[WebRig]:
    clock = ScaledClock(SPEED)
    async with FakeExchange(seed=7, clock=clock, push_interval=3.0) as exchange:
        yield WebRig(exchange, clock, tmp_path)
