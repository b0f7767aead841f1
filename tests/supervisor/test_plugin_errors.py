"""A broken plugin gets one message naming the plugin, the hook or factory, and what was expected."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from candlewick.config import Settings
from candlewick.errors import PluginError
from candlewick.plugin import ComponentSpec, Source, hookimpl
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.testing import MemorySink, PassThroughBuffer


class Idle(Source):
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await anyio.sleep_forever()


def plugin(name: str, **hooks: Any) -> ModuleType:
    module = ModuleType(f"plugin_{name}")
    for attr, fn in hooks.items():
        setattr(module, attr, hookimpl(fn))
    return module


def load_error(**hooks: Any) -> str:
    loaded = build_plugin_manager(extra=[("shaky", plugin("shaky", **hooks))], load_entry_points=False)
    [error] = loaded.errors
    assert error.plugin == "shaky"
    return str(error)


def test_a_registration_hook_that_raises_names_the_hook() -> None:
    def candlewick_register_sources() -> list[ComponentSpec]:
        raise KeyError("coins")

    message = load_error(candlewick_register_sources=candlewick_register_sources)
    assert "plugin 'shaky'" in message
    assert "candlewick_register_sources() raised KeyError: 'coins'" in message


def test_a_spec_returned_without_a_list_says_a_list_is_expected() -> None:
    def candlewick_register_sources() -> ComponentSpec:
        return ComponentSpec("one", "source", Idle)

    message = load_error(candlewick_register_sources=candlewick_register_sources)
    assert "candlewick_register_sources() returned ComponentSpec, expected a list of ComponentSpec(kind='source')" in (
        message
    )


def test_a_spec_of_another_kind_names_the_hook_and_the_kind() -> None:
    def candlewick_register_sinks() -> list[ComponentSpec]:
        return [ComponentSpec("oops", "source", Idle)]

    message = load_error(candlewick_register_sinks=candlewick_register_sinks)
    assert (
        "candlewick_register_sinks() returned 'oops' with kind='source', expected a list of ComponentSpec(kind='sink')"
        in (message)
    )


def test_control_methods_that_raise_or_are_not_a_mapping_are_left_out(caplog: pytest.LogCaptureFixture) -> None:
    def raising(host: Any) -> dict[str, Any]:
        raise RuntimeError("no host today")

    def listing(host: Any) -> list[str]:
        return ["status"]

    async def status(params: dict[str, Any]) -> str:
        return "ok"

    def good(host: Any) -> dict[str, Any]:
        return {"status": status}

    loaded = build_plugin_manager(
        extra=[("raiser", plugin("raiser", candlewick_control_methods=raising)),
               ("lister", plugin("lister", candlewick_control_methods=listing)),
               ("fine", plugin("fine", candlewick_control_methods=good))],
        load_entry_points=False,
    )  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="candlewick.pluginmanager"):
        methods = loaded.control_methods(host=None)  # type: ignore[arg-type]
    assert methods == {"fine.status": status}
    errors = sorted(r.getMessage() for r in caplog.records)
    assert errors == [
        "plugin 'lister': candlewick_control_methods(host) returned list, expected a mapping of method name to "
        "async handler; its control methods are left out",
        "plugin 'raiser': candlewick_control_methods(host) raised RuntimeError: no host today; its control "
        "methods are left out",
    ]


def _daemon(tmp_path: Path, factory: Any) -> Daemon:
    def candlewick_register_sources() -> list[ComponentSpec]:
        return [ComponentSpec("feed", "source", factory)]

    def candlewick_register_sinks() -> list[ComponentSpec]:
        return [ComponentSpec("mem", "sink", MemorySink)]

    def candlewick_register_buffers() -> list[ComponentSpec]:
        return [ComponentSpec("through", "buffer", PassThroughBuffer)]

    module = plugin(
        "feeder",
        candlewick_register_sources=candlewick_register_sources,
        candlewick_register_sinks=candlewick_register_sinks,
        candlewick_register_buffers=candlewick_register_buffers,
    )
    hooks = build_plugin_manager(extra=[("feeder", module)], load_entry_points=False)
    settings = Settings.model_validate({
        "sources": {"feed": {}}, "sink": {"use": "mem"}, "buffer": {"use": "through"},
        "daemon": {"data_dir": str(tmp_path)},
    })  # fmt: skip
    return Daemon(settings, hooks)


def test_a_factory_that_raises_names_plugin_and_section(tmp_path: Path) -> None:
    def factory(ctx: Any) -> Source:
        raise ValueError("needs an API key")

    daemon = _daemon(tmp_path, factory)
    with pytest.raises(PluginError) as info:
        daemon.build(dry_run=True)
    daemon.close()
    assert str(info.value).startswith(
        "sources.feed: the factory of source 'feed' (plugin 'feeder') raised ValueError: needs an API key"
    )
    assert "CANDLEWICK_DISABLE_PLUGINS=feeder" in str(info.value)


def test_a_factory_that_builds_the_wrong_thing_says_what_was_expected(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, MemorySink)
    with pytest.raises(PluginError, match=r"returned a sink, expected an instance of a candlewick\.plugin\.Source"):
        daemon.build(dry_run=True)
    daemon.close()
    daemon = _daemon(tmp_path, lambda ctx: 42)
    with pytest.raises(PluginError, match=r"\(plugin 'feeder'\) returned int, expected an instance"):
        daemon.build(dry_run=True)
    daemon.close()
