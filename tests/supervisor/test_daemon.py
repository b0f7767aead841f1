"""The daemon: building from config and plugins, data path, shutdown order, exit codes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from candlewick.config import Settings
from candlewick.errors import BackendNotSupported, ConfigError, UnknownComponent
from candlewick.plugin import ComponentSpec, RestartPolicy, Source, hookimpl
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import EXIT_FAILED, EXIT_OK, Daemon
from candlewick.runtime.policy import ChildState
from tests.supervisor.helpers import ListBuffer, OrderSource, Recorder, RecordingSink

pytestmark = pytest.mark.anyio


class TickOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 5
    """Candles to emit."""


def recording_plugin(rec: Recorder, *, sink_backends: frozenset[str] = frozenset({"asyncio", "trio"})) -> Any:
    """An in-process plugin providing a source, a buffer and a sink that record their lifecycle."""

    class Plugin:
        @hookimpl
        def candlewick_register_sources(self) -> list[ComponentSpec]:
            return [
                ComponentSpec(
                    "tick",
                    "source",
                    lambda ctx: OrderSource(ctx, rec, ctx.config.count),
                    config_model=TickOptions,
                ),
                ComponentSpec("crashy", "source", Crashy),
            ]

        @hookimpl
        def candlewick_register_buffers(self) -> list[ComponentSpec]:
            return [ComponentSpec("list", "buffer", lambda ctx: ListBuffer(ctx, rec))]

        @hookimpl
        def candlewick_register_sinks(self) -> list[ComponentSpec]:
            return [ComponentSpec("mem", "sink", lambda ctx: RecordingSink(ctx, rec), backends=sink_backends)]

    return Plugin()


class Crashy(Source):
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        raise ConnectionError("exchange unreachable")


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    data: dict[str, Any] = {
        "sources": {"tick": {"count": 3}},
        "buffer": {"use": "list"},
        "sink": {"use": "mem"},
        "daemon": {"data_dir": str(tmp_path / "data"), "shutdown_timeout": 2},
    }
    data.update(overrides)
    return Settings(**data)


def make_daemon(tmp_path: Path, rec: Recorder, **overrides: Any) -> Daemon:
    hooks = build_plugin_manager(extra=[("testplug", recording_plugin(rec))], load_entry_points=False)
    return Daemon(settings(tmp_path, **overrides), hooks)


async def test_graceful_shutdown_order_and_drain(tmp_path: Path) -> None:
    """Sources stop first, the buffer drains everything into the sink, then the sink closes; exit 0."""
    rec = Recorder()
    daemon = make_daemon(tmp_path, rec)
    daemon.build()
    sink = daemon.component("mem")
    assert isinstance(sink, RecordingSink)
    async with anyio.create_task_group() as tg:
        codes: list[int] = []

        async def run() -> None:
            codes.append(await daemon.run(signals=False))

        tg.start_soon(run)
        buffer = daemon.component("list")
        assert isinstance(buffer, ListBuffer)
        with anyio.fail_after(5):
            while buffer.depth() < 3:
                await anyio.sleep(0.01)
        daemon.request_shutdown("test")
    assert codes == [EXIT_OK]
    assert rec.steps == ["source tick stopped", "sink wrote 3", "buffer drained 3", "sink closed"]
    assert len(sink.rows) == 3
    assert (tmp_path / "data").is_dir()
    states = {c.name: c.state for c in daemon.supervisor.children.values()}
    assert set(states.values()) == {ChildState.STOPPED}


async def test_critical_failure_exits_non_zero(tmp_path: Path) -> None:
    """A critical component past its restart intensity stops the daemon with exit 1."""
    rec = Recorder()
    daemon = make_daemon(
        tmp_path,
        rec,
        sources={"crashy": {}},
        restart={"crashy": {"max_restarts": 1, "backoff_initial": 0.01, "critical": True}},
    )
    daemon.build()
    with anyio.fail_after(5):
        code = await daemon.run(signals=False)
    assert code == EXIT_FAILED
    crashy = daemon.supervisor.child("crashy")
    assert crashy.state is ChildState.FAILED
    assert crashy.last_error is not None
    assert crashy.last_error.message == "exchange unreachable"


async def test_non_critical_failure_keeps_the_daemon_running(tmp_path: Path) -> None:
    """one_for_one: a failed non-critical source leaves the rest running."""
    rec = Recorder()
    daemon = make_daemon(
        tmp_path,
        rec,
        sources={"crashy": {}, "tick": {}},
        restart={"crashy": {"max_restarts": 0}},
    )
    daemon.build()
    async with anyio.create_task_group() as tg:
        await tg.start(lambda task_status: daemon.run(task_status=task_status, signals=False))
        crashy = daemon.supervisor.child("crashy")
        with anyio.fail_after(5):
            while crashy.state is not ChildState.FAILED:
                await anyio.sleep(0.01)
        assert daemon.supervisor.child("tick").state is ChildState.RUNNING
        assert daemon.supervisor.child("mem").state is ChildState.RUNNING
        daemon.request_shutdown("test")
    assert daemon.exit_code == EXIT_OK


async def test_shutdown_deadline_cancels_a_child_that_does_not_drain(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A buffer that ignores end-of-input is cancelled at the deadline; the daemon still exits 0."""
    rec = Recorder()
    daemon = make_daemon(tmp_path, rec, daemon={"data_dir": str(tmp_path), "shutdown_timeout": 0.3})
    daemon.build()

    async def never_drains(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()

    daemon.component("list").run = never_drains  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(lambda task_status: daemon.run(task_status=task_status, signals=False))
            daemon.request_shutdown("test")
    assert daemon.exit_code == EXIT_OK
    assert "shutdown took longer than 0.3s; cancelling mem, list" in caplog.text


def test_unknown_component_lists_installed_ones(tmp_path: Path) -> None:
    """A config naming a missing plugin says which ones are installed."""
    daemon = make_daemon(tmp_path, Recorder(), sink={"use": "timescale"})
    with pytest.raises(UnknownComponent, match=r"no sink plugin named 'timescale'.*installed sinks: mem"):
        daemon.build()
    daemon.close()


def test_plugin_section_is_validated_by_its_model(tmp_path: Path) -> None:
    """A bad key in a plugin section names the section and key."""
    daemon = make_daemon(tmp_path, Recorder(), sources={"tick": {"count": "many"}})
    with pytest.raises(ConfigError, match=r"sources\.tick\.count: 'many' is not valid"):
        daemon.build()
    daemon.close()
    daemon = make_daemon(tmp_path, Recorder(), sources={"tick": {"cuont": 1}})
    with pytest.raises(ConfigError, match=r"sources\.tick\.cuont: unknown key"):
        daemon.build()
    daemon.close()


def test_backend_mismatch_is_refused(tmp_path: Path) -> None:
    """A component that cannot run on the chosen backend is refused with a hint."""
    rec = Recorder()
    hooks = build_plugin_manager(
        extra=[("testplug", recording_plugin(rec, sink_backends=frozenset({"asyncio"})))], load_entry_points=False
    )
    daemon = Daemon(settings(tmp_path), hooks, backend="trio")
    with pytest.raises(BackendNotSupported, match=r"sink 'mem' runs on asyncio only, not on trio"):
        daemon.build()
    daemon.close()


def test_restart_policy_layers(tmp_path: Path) -> None:
    """[restart.default] applies to all, [restart.<name>] to one, over the plugin's own default."""
    s = settings(tmp_path, restart={"default": {"max_restarts": 7}, "tick": {"backoff_max": 3, "critical": True}})
    base = RestartPolicy(backoff_initial=2.0)
    tick = s.restart_policy("tick", base)
    other = s.restart_policy("other", base)
    assert (tick.max_restarts, tick.backoff_max, tick.critical, tick.backoff_initial) == (7, 3, True, 2.0)
    assert (other.max_restarts, other.critical) == (7, False)


def test_namespace_is_only_public_names() -> None:
    """Plugin authors find everything in candlewick.plugin."""
    from candlewick import plugin

    assert plugin.__all__ == sorted(plugin.__all__)
    for name in plugin.__all__:
        assert hasattr(plugin, name)


async def test_the_daemon_logs_a_compression_that_would_catch_open_candles(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning check-config prints is logged at start too."""
    settings = Settings.model_validate(
        {
            "sources": {"hyperliquid": {
                "intervals": ["1m", "1M"], "ws_url": "ws://127.0.0.1:9/ws", "rest_url": "http://127.0.0.1:9",
            }},
            "sink": {"use": "timescaledb", "timescaledb": {
                "dsn": "postgresql://candlewick@127.0.0.1:9/candlewick", "compress_after": "2 weeks",
            }},
            "daemon": {"data_dir": str(tmp_path / "data")},
            "spool": {"dir": str(tmp_path / "spool")},
        }
    )  # fmt: skip
    daemon = Daemon(settings, build_plugin_manager())
    daemon.build()
    daemon.request_shutdown("test over")
    with caplog.at_level(logging.WARNING, logger="candlewick.runtime.daemon"), anyio.fail_after(20):
        await daemon.run(signals=False)
    warnings = [r.getMessage() for r in caplog.records if "compress_after = '2 weeks'" in r.getMessage()]
    assert len(warnings) == 1
    assert "1M" in warnings[0]
