"""Dashboard fixtures: asyncio only (Textual), a real daemon on a real socket, no cursor blink."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.app import App

from candlewick.config import Settings
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.policy import ChildState
from candlewick.runtime.services import default_services
from candlewick.testing.daemon import running_daemon
from tests.tui import plugin


@pytest.fixture
def anyio_backend() -> str:
    """Textual runs on asyncio."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make screenshots depend on timing."""
    monkeypatch.setattr("textual.widgets._input.Input.cursor_blink", False)


def screen_text(app: App[Any]) -> str:
    """What the terminal shows now, as plain text (no colours)."""
    console = Console(width=app.size.width, height=app.size.height, record=True, file=io.StringIO(), color_system=None)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short directory for sockets (Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="cwtui-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make_daemon(data_dir: Path, socket: Path, **overrides: Any) -> Daemon:
    """A real daemon with the test plugin and the real control server on ``socket``."""
    data: dict[str, Any] = {
        "sources": {"feed": {}},
        "buffer": {"use": "through"},
        "sink": {"use": "mem"},
        "control": {"socket": str(socket)},
        "daemon": {"data_dir": str(data_dir), "shutdown_timeout": 3},
    }
    data.update(overrides)
    hooks = build_plugin_manager(extra=[(plugin.PLUGIN_NAME, plugin)], load_entry_points=False)
    daemon = Daemon(Settings(**data), hooks, services=default_services())
    daemon.build()
    return daemon


@dataclass
class Running:
    daemon: Daemon
    socket: Path

    def state_of(self, name: str) -> ChildState:
        return self.daemon.supervisor.children[name].state

    @property
    def feed(self) -> plugin.Feed:
        feed = self.daemon.components["feed"]
        assert isinstance(feed, plugin.Feed)
        return feed


@pytest.fixture
async def running(tmp_path: Path, sock_dir: Path) -> AsyncIterator[Running]:
    """A daemon serving its control socket until the test ends."""
    socket = sock_dir / "control.sock"
    daemon = make_daemon(tmp_path / "data", socket)
    async with running_daemon(daemon, until_running=True):
        yield Running(daemon, socket)
