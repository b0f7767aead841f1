"""The one composition root: a source's companions are built beside it, by the daemon and by
standalone ``candlewick backfill`` alike (an in-process third-party plugin, no name conventions)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from candlewick.commands.backfill import Progress, _standalone
from candlewick.config import Settings
from candlewick.errors import ConfigError, UnknownComponent
from candlewick.plugin import ComponentContext, ComponentSpec, Source, hookimpl
from candlewick.pluginmanager import PluginHooks, build_plugin_manager
from candlewick.runtime.builder import plan_components
from candlewick.runtime.daemon import Daemon
from tests.supervisor.helpers import ListBuffer, OrderSource, Recorder, RecordingSink, candle


class TickOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = 0
    """Candles the live source emits."""


class HistoryOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    detect: bool = True
    keep_pending: bool = True
    depth: int = 1
    """Candles one job fetches."""


class TickHistory(Source):
    """A third party's backfill companion: each job "fetches" ``depth`` closed candles."""

    def __init__(self, ctx: ComponentContext[HistoryOptions]) -> None:
        super().__init__(ctx)
        self.jobs: list[dict[str, Any]] = []
        #: The live source's options as this companion read them (its REST URL, say).
        self.source_options = ctx.settings.sources.get("tick")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()

    async def backfill_start(self, coin: str, intervals: Sequence[str], days: int | None) -> list[dict[str, Any]]:
        if coin != "TICK":
            raise ValueError(f"unknown coin {coin!r}")
        new = []
        for interval in intervals:
            depth = self.ctx.config.depth
            for i in range(depth):
                await self.ctx.candles.send(candle(i * 60_000, coin=coin, closed=True))
            job = {"id": str(len(self.jobs) + 1), "interval": interval, "state": "done", "fetched": depth}
            self.jobs.append({**job, "expected": depth})
            new.append(self.jobs[-1])
        return new

    def backfill_list(self) -> list[dict[str, Any]]:
        return list(reversed(self.jobs))

    async def backfill_cancel(self, job_id: str) -> dict[str, Any]:
        raise LookupError(job_id)


class Built:
    """What the plugin's factories built, to look at after a run."""

    def __init__(self) -> None:
        self.rec = Recorder()
        self.sinks: list[RecordingSink] = []


def companion_plugin(built: Built) -> Any:
    """``tick`` names ``tick-history`` as its companion; ``twin`` shares it; ``lonely``'s is missing."""

    def idle(ctx: ComponentContext[Any]) -> OrderSource:
        return OrderSource(ctx, built.rec, 0)

    def sink(ctx: ComponentContext[Any]) -> RecordingSink:
        built.sinks.append(RecordingSink(ctx, built.rec))
        return built.sinks[-1]

    class Plugin:
        @hookimpl
        def candlewick_register_sources(self) -> list[ComponentSpec]:
            return [
                ComponentSpec(
                    "tick",
                    "source",
                    lambda ctx: OrderSource(ctx, built.rec, ctx.config.count),
                    config_model=TickOptions,
                    companions=("tick-history",),
                ),
                ComponentSpec("twin", "source", idle, companions=("tick-history",)),
                ComponentSpec("lonely", "source", idle, companions=("ghost",)),
                ComponentSpec("plain", "source", idle),
                ComponentSpec("tick-history", "source", TickHistory, config_model=HistoryOptions),
            ]

        @hookimpl
        def candlewick_register_buffers(self) -> list[ComponentSpec]:
            return [ComponentSpec("list", "buffer", lambda ctx: ListBuffer(ctx, built.rec))]

        @hookimpl
        def candlewick_register_sinks(self) -> list[ComponentSpec]:
            return [ComponentSpec("mem", "sink", sink)]

    return Plugin()


def hooks_for(built: Built) -> PluginHooks:
    return build_plugin_manager(extra=[("thirdparty", companion_plugin(built))], load_entry_points=False)


def settings(tmp_path: Path, sources: dict[str, Any]) -> Settings:
    return Settings.model_validate(
        {
            "sources": sources,
            "buffer": {"use": "list"},
            "sink": {"use": "mem"},
            "daemon": {"data_dir": str(tmp_path / "data"), "shutdown_timeout": 5},
        }
    )


def built_daemon(tmp_path: Path, sources: dict[str, Any], **build: Any) -> Daemon:
    daemon = Daemon(settings(tmp_path, sources), hooks_for(Built()))
    try:
        daemon.build(**build)
    finally:
        daemon.close()
    return daemon


def history(daemon: Daemon) -> TickHistory:
    component = daemon.component("tick-history")
    assert isinstance(component, TickHistory)
    return component


def test_a_sources_companion_is_built_beside_it_with_its_defaults(tmp_path: Path) -> None:
    daemon = built_daemon(tmp_path, {"tick": {"count": 2}})
    assert list(daemon.components) == ["mem", "list", "tick", "tick-history"]
    companion = history(daemon)
    assert companion.ctx.config == HistoryOptions()
    assert companion.source_options == {"count": 2}
    assert daemon.supervisor.child("tick-history").kind == "source"


def test_an_explicitly_configured_companion_is_built_once_with_its_options(tmp_path: Path) -> None:
    """Named in the config (and by two sources), it is the configured source it is, once."""
    daemon = built_daemon(tmp_path, {"tick-history": {"depth": 3}, "tick": {}, "twin": {}})
    assert sorted(daemon.components) == ["list", "mem", "tick", "tick-history", "twin"]
    assert history(daemon).ctx.config.depth == 3


def test_two_sources_sharing_a_companion_get_one(tmp_path: Path) -> None:
    daemon = built_daemon(tmp_path, {"tick": {}, "twin": {}})
    assert list(daemon.components) == ["mem", "list", "tick", "twin", "tick-history"]


def test_a_companion_is_built_only_for_a_configured_source(tmp_path: Path) -> None:
    daemon = built_daemon(tmp_path, {"plain": {}})
    assert list(daemon.components) == ["mem", "list", "plain"]


def test_a_companion_naming_a_missing_plugin_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        built_daemon(tmp_path, {"lonely": {}}, dry_run=True)
    assert str(caught.value).startswith(
        "sources.lonely: the 'lonely' plugin declares the companion 'ghost', but no source plugin named 'ghost' "
        "is installed"
    )
    assert "'ghost'" in str(caught.value.hint)


def test_only_sources_builds_just_those_over_their_own_tables(tmp_path: Path) -> None:
    """A one-shot run: sink, buffer and the named source, the overrides laid over its table."""
    sources = {"tick": {"count": 4}, "tick-history": {"depth": 5}}
    daemon = built_daemon(tmp_path, sources, only_sources={"tick-history": {"detect": False, "keep_pending": False}})
    assert list(daemon.components) == ["mem", "list", "tick-history"]
    assert history(daemon).ctx.config == HistoryOptions(detect=False, keep_pending=False, depth=5)
    assert history(daemon).source_options == {"count": 4}


def test_the_plan_validates_a_companion_like_any_source(tmp_path: Path) -> None:
    """The companion's options are checked by its own model, with its own key in the message."""
    hooks = hooks_for(Built())
    with pytest.raises(ConfigError, match=r"sources\.tick-history\.depht: unknown key"):
        plan_components(settings(tmp_path, {"tick": {}, "tick-history": {"depht": 2}}), hooks)
    planned = plan_components(settings(tmp_path, {"tick": {}}), hooks)
    assert [(p.kind, p.name, p.key) for p in planned] == [
        ("sink", "mem", "sink.mem"),
        ("buffer", "list", "buffer.list"),
        ("source", "tick", "sources.tick"),
        ("source", "tick-history", "sources.tick-history"),
    ]


@pytest.mark.parametrize(
    ("kind", "companions", "message"),
    [
        ("source", "tick-history", "must be a tuple of source names"),
        ("sink", ("tick-history",), "only a source has companions"),
        ("source", ("self",), "names itself"),
    ],
)
def test_a_spec_with_bad_companions_is_refused(kind: Any, companions: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ComponentSpec("self", kind, TickHistory, companions=companions)


@pytest.mark.anyio
async def test_standalone_backfill_runs_the_companion_the_spec_declares(tmp_path: Path) -> None:
    """Standalone ``candlewick backfill --source tick`` builds through the daemon's builder: the
    companion ``tick`` declares (no ``-backfill`` in its name), one-shot, without the live source."""
    built = Built()
    config = settings(tmp_path, {"tick": {"count": 9}, "tick-history": {"depth": 4}})
    progress = Progress(["1m", "5m"], tty=False)
    code = await _standalone(config, hooks_for(built), "tick", "TICK", ["1m", "5m"], 7, progress, tmp_path / "s")
    assert code == 0
    assert built.rec.steps == ["sink wrote 8", "buffer drained 8", "sink closed"]  # no live source ran
    (sink,) = built.sinks
    assert sorted(c.open_time for c in sink.rows.values()) == [0, 60_000, 120_000, 180_000]


@pytest.mark.anyio
async def test_standalone_backfill_of_a_source_without_companions_is_refused(tmp_path: Path) -> None:
    config = settings(tmp_path, {"plain": {}})
    progress = Progress(["1m"], tty=False)
    with pytest.raises(UnknownComponent, match="source 'plain' cannot fetch history"):
        await _standalone(config, hooks_for(Built()), "plain", "TICK", ["1m"], 1, progress, tmp_path / "s")
