"""Code that blocks the event loop is noticed on asyncio and trio, and its plugin is named."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import anyio
import pytest
from anyio.abc import TaskStatus

from candlewick.config import Settings
from candlewick.plugin import ComponentSpec, Source, hookimpl
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.blockwatch import BlockWatch, find_culprit
from candlewick.runtime.daemon import Daemon
from candlewick.testing import MemorySink, PassThroughBuffer
from candlewick.testing.daemon import running_daemon

pytestmark = pytest.mark.anyio

HERE = __name__


def hold_the_loop(seconds: float) -> None:
    """Blocking I/O done wrong: a sleep on the event loop's thread."""
    time.sleep(seconds)


async def test_a_stall_names_the_owner_and_the_line(caplog: pytest.LogCaptureFixture) -> None:
    """One warning per stall, naming the plugin that owns the innermost frame, file, line and function."""
    watch = BlockWatch(0.15, {HERE: "blocker"})
    caplog.set_level(logging.INFO, logger="candlewick.runtime.blockwatch")
    async with anyio.create_task_group() as tg:
        await tg.start(watch.run)
        await anyio.sleep(0.05)
        hold_the_loop(0.4)
        await anyio.sleep(0.1)
        hold_the_loop(0.02)  # under the threshold: nothing said
        await anyio.sleep(0.1)
        tg.cancel_scope.cancel()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "by plugin 'blocker' in " in warnings[0]
    assert "test_blockwatch.py" in warnings[0]
    assert "(hold_the_loop)" in warnings[0]
    assert "anyio.to_thread.run_sync" in warnings[0]
    [(lasted, culprit)] = watch.stalls
    assert culprit is not None
    assert culprit.plugin == "blocker"
    assert 0.35 < lasted < 1.5


def test_code_outside_every_plugin_is_reported_as_such() -> None:
    import sys

    culprit = find_culprit(sys._getframe(), {"somebody_else": "other"})
    assert culprit is not None
    assert culprit.plugin is None
    assert str(culprit).startswith("code outside any plugin, in ")


class Blocking(Source):
    """A source that calls blocking code once it runs."""

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep(0.1)
        time.sleep(0.35)
        await anyio.sleep_forever()


class SlowPlugin:
    @hookimpl
    def candlewick_register_sources(self) -> list[ComponentSpec]:
        return [ComponentSpec("slow", "source", Blocking)]

    @hookimpl
    def candlewick_register_sinks(self) -> list[ComponentSpec]:
        return [ComponentSpec("mem", "sink", MemorySink)]

    @hookimpl
    def candlewick_register_buffers(self) -> list[ComponentSpec]:
        return [ComponentSpec("through", "buffer", PassThroughBuffer)]


async def test_the_daemon_names_a_plugin_that_blocks_its_loop(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """[daemon] block_warning_ms: a source blocking the loop is logged with its plugin's name."""
    hooks = build_plugin_manager(extra=[("slowpoke", SlowPlugin())], load_entry_points=False)
    settings = Settings.model_validate({
        "sources": {"slow": {}}, "sink": {"use": "mem"}, "buffer": {"use": "through"},
        "daemon": {"data_dir": str(tmp_path), "block_warning_ms": 100},
    })  # fmt: skip
    daemon = Daemon(settings, hooks)
    daemon.build()
    assert daemon.blockwatch is not None
    with caplog.at_level(logging.WARNING, logger="candlewick.runtime.blockwatch"):
        async with running_daemon(daemon):
            with anyio.fail_after(10):
                while not daemon.blockwatch.stalls:
                    await anyio.sleep(0.05)
    warnings = [r.getMessage() for r in caplog.records if "slowpoke" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "by plugin 'slowpoke' in " in warnings[0]
    assert "(Blocking.run)" in warnings[0]


def test_zero_turns_the_watchdog_off(tmp_path: Path) -> None:
    hooks = build_plugin_manager(extra=[("slowpoke", SlowPlugin())], load_entry_points=False)
    settings = Settings.model_validate({"sources": {}, "daemon": {"block_warning_ms": 0}})
    daemon = Daemon(settings, hooks)
    daemon.close()
    assert daemon.blockwatch is None
