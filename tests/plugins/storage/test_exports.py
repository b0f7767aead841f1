"""The storage packages' public faces: sorted ``__all__`` of names that exist; plugins register by entry point."""

from __future__ import annotations

import importlib

import pytest

from candlewick.pluginmanager import build_plugin_manager


@pytest.mark.parametrize(
    "name", ["candlewick.plugins.memory_buffer", "candlewick.plugins.sqlite", "candlewick.plugins.timescaledb"]
)
def test_public_names_are_sorted_and_exist(name: str) -> None:
    """Each package re-exports a sorted ``__all__``."""
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_storage_components_come_from_the_entry_points() -> None:
    """memory (buffer), sqlite and timescaledb (sinks) load like third-party plugins, with their config models."""
    specs = build_plugin_manager().component_specs()
    assert specs[("buffer", "memory")].config_model is not None
    assert specs[("sink", "sqlite")].backends == frozenset({"asyncio", "trio"})
    assert specs[("sink", "timescaledb")].backends == frozenset({"asyncio"})
    assert specs[("buffer", "memory")].restart.critical
    assert specs[("sink", "sqlite")].restart.critical
    assert specs[("sink", "timescaledb")].restart.critical
