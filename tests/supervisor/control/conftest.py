"""Fixtures: a real daemon with the in-process test plugin, serving a socket in a short temp dir."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from candlewick.config import Settings
from candlewick.control.server import ControlServer
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.services import default_services
from candlewick.testing.daemon import running_daemon
from tests.supervisor.control import plugin


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for sockets (Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="cw-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_settings(tmp_path: Path, socket: Path, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "sources": {"feed": {}},
        "buffer": {"use": "through"},
        "sink": {"use": "mem"},
        "control": {"socket": str(socket)},
        "daemon": {"data_dir": str(tmp_path / "data"), "shutdown_timeout": 3},
    }
    data.update(overrides)
    return Settings(**data)


def make_daemon(tmp_path: Path, socket: Path, *, backend: str | None = None, **overrides: Any) -> Daemon:
    """A built daemon (the control server has claimed its socket)."""
    hooks = build_plugin_manager(extra=[(plugin.PLUGIN_NAME, plugin)], load_entry_points=False)
    daemon = Daemon(make_settings(tmp_path, socket, **overrides), hooks, backend=backend, services=default_services())
    try:
        daemon.build()
    except BaseException:
        discard(daemon)
        raise
    return daemon


def discard(daemon: Daemon) -> None:
    """Release what a daemon that will never run holds (its candle stream, the socket lock)."""
    daemon._candle_send.close()
    daemon._candle_receive.close()
    server = daemon.components.get("control")
    if isinstance(server, ControlServer):
        server._lock.release()


@dataclass
class Running:
    daemon: Daemon
    socket: Path

    @property
    def server(self) -> ControlServer:
        server = self.daemon.components["control"]
        assert isinstance(server, ControlServer)
        return server


@pytest.fixture
async def running(tmp_path: Path, sock_dir: Path, anyio_backend: str) -> AsyncIterator[Running]:
    """A daemon with the test plugin and the control server, running until the test ends."""
    socket = sock_dir / "control.sock"
    daemon = make_daemon(tmp_path, socket, backend=anyio_backend)
    async with running_daemon(daemon, until_running=True):
        yield Running(daemon, socket)
