"""``candles.recent`` over the real socket from a daemon storing into SQLite, with the sink stopped too."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from candlewick.config import Settings
from candlewick.control.client import ControlClient
from candlewick.pluginmanager import build_plugin_manager
from candlewick.plugins.memory_buffer import plugin as buffer_plugin
from candlewick.plugins.sqlite import plugin as sqlite_plugin
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.policy import ChildState
from candlewick.runtime.services import default_services
from candlewick.testing.daemon import running_daemon
from tests.supervisor.control import plugin

pytestmark = pytest.mark.anyio


async def test_candles_recent_reads_sqlite_while_the_sink_is_stopped(
    tmp_path: Path, sock_dir: Path, anyio_backend: str
) -> None:
    socket = sock_dir / "control.sock"
    settings = Settings.model_validate(
        {
            "sources": {"feed": {}},
            "buffer": {"use": "memory", "memory": {"flush_interval": 0.05}},
            "sink": {"use": "sqlite", "sqlite": {"path": str(tmp_path / "c.db")}},
            "control": {"socket": str(socket)},
            "daemon": {"data_dir": str(tmp_path / "data"), "shutdown_timeout": 3},
            "restart": {"sqlite": {"critical": False}},  # stopping it must not end the daemon
        }
    )
    hooks = build_plugin_manager(
        extra=[(plugin.PLUGIN_NAME, plugin), ("sqlite", sqlite_plugin), ("memory-buffer", buffer_plugin)],
        load_entry_points=False,
    )
    daemon = Daemon(settings, hooks, backend=anyio_backend, services=default_services())
    daemon.build()
    async with running_daemon(daemon, until_running=True), ControlClient.connect(socket) as client:
        params = {"coin": "BTC", "interval": "1m", "limit": 2}
        with anyio.fail_after(10):
            while len((before := await client.call("candles.recent", params))["candles"]) < 2:
                await anyio.sleep(0.02)
        await client.call("component.stop", {"name": "sqlite"})
        assert daemon.supervisor.children["sqlite"].state is ChildState.STOPPED
        assert await client.call("candles.recent", params) == before  # the writer is gone, reads go on
        assert before["candles"][-1] == {
            "time": 1_700_000_160_000, "close_time": 1_700_000_219_999, "open": "100.5", "high": "101",
            "low": "99", "close": "100.75", "volume": "12.5", "trades": 7, "closed": True,
            "derived": False,
        }  # fmt: skip
