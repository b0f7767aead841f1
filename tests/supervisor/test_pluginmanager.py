"""The plugin manager: one component table built at load time, hooks called through pluggy."""

from __future__ import annotations

import logging
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from candlewick.plugin import ComponentSpec, Source, hookimpl
from candlewick.pluginmanager import build_plugin_manager


class _Idle(Source):
    async def run(self, *, task_status: Any = None) -> None:  # pragma: no cover - never run here
        raise NotImplementedError


def _module(name: str, **hooks: object) -> ModuleType:
    """An in-process plugin module holding ``hooks``, as an entry point would load it."""
    module = ModuleType(f"plugin_{name}")
    for attr, fn in hooks.items():
        setattr(module, attr, fn)
    return module


def _source_plugin(name: str, calls: list[str]) -> ModuleType:
    @hookimpl
    def candlewick_register_sources() -> list[ComponentSpec]:
        calls.append(name)
        return [ComponentSpec(name="feed", kind="source", factory=_Idle, description=f"from {name}")]

    return _module(name, candlewick_register_sources=candlewick_register_sources)


def test_registration_hooks_run_once_at_load() -> None:
    """Looking components up never calls the registration hooks again."""
    calls: list[str] = []
    hooks = build_plugin_manager(extra=[("alpha", _source_plugin("alpha", calls))], load_entry_points=False)
    for _ in range(3):
        hooks.component_specs()
        hooks.spec("source", "feed")
    assert calls == ["alpha"]


def test_duplicate_name_warns_once_naming_both_plugins(caplog: pytest.LogCaptureFixture) -> None:
    """A second plugin registering a taken name is ignored with one warning naming both."""
    calls: list[str] = []
    with caplog.at_level(logging.WARNING, logger="candlewick.pluginmanager"):
        hooks = build_plugin_manager(
            extra=[("alpha", _source_plugin("alpha", calls)), ("beta", _source_plugin("beta", calls))],
            load_entry_points=False,
        )
        hooks.component_specs()
        hooks.spec("source", "feed")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'beta'" in warnings[0]
    assert "'alpha'" in warnings[0]
    assert "'feed'" in warnings[0]
    assert hooks.spec("source", "feed").description == "from alpha"
    assert hooks.owners[("source", "feed")] == "alpha"


def test_control_methods_go_through_pluggy(caplog: pytest.LogCaptureFixture) -> None:
    """Hook tracing sees the control-methods hook, and each method is namespaced by its plugin."""

    async def ping(params: dict[str, Any]) -> str:
        return "pong"

    @hookimpl
    def candlewick_control_methods(host: object) -> dict[str, Any]:
        return {"ping": ping}

    plugin = _module("pinger", candlewick_control_methods=candlewick_control_methods)
    hooks = build_plugin_manager(
        extra=[("pinger", plugin), ("silent", _module("silent"))],
        load_entry_points=False,
        environ={"CANDLEWICK_TRACE_HOOKS": "1"},
    )
    with caplog.at_level(logging.INFO, logger="candlewick.hooks"):
        methods = hooks.control_methods(host=SimpleNamespace())
    assert methods == {"pinger.ping": ping}
    assert any("candlewick_control_methods" in r.getMessage() for r in caplog.records)


def test_a_registration_hook_of_the_wrong_type_fails_that_plugin_only() -> None:
    """A hook returning something other than ComponentSpec is a load error naming the plugin."""

    @hookimpl
    def candlewick_register_sinks() -> list[object]:
        return ["not a spec"]

    calls: list[str] = []
    hooks = build_plugin_manager(
        extra=[("broken", _module("broken", candlewick_register_sinks=candlewick_register_sinks)),
               ("alpha", _source_plugin("alpha", calls))],
        load_entry_points=False,
    )  # fmt: skip
    assert [e.plugin for e in hooks.errors] == ["broken"]
    assert "expected ComponentSpec" in str(hooks.errors[0])
    assert hooks.spec("source", "feed").description == "from alpha"


def test_an_unhashable_plugin_object_is_refused_by_name() -> None:
    """pluggy keeps plugins in sets: an unhashable one fails to load with a message saying so."""
    hooks = build_plugin_manager(extra=[("odd", SimpleNamespace())], load_entry_points=False)
    assert [e.plugin for e in hooks.errors] == ["odd"]
    assert "hashable" in str(hooks.errors[0])
