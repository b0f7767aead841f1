"""Opening a reader from the config alone, and finding the gap-repair ledger beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from candlewick.config import Settings
from candlewick.errors import ConfigError, UnknownComponent
from candlewick.plugin import ComponentSpec, hookimpl, state_key
from candlewick.pluginmanager import build_plugin_manager
from candlewick.plugins.sqlite.reader import SqliteReader
from candlewick.readers import ledger_path, open_reader
from candlewick.testing import MemorySink


class _MemoryPlugin:
    @hookimpl
    def candlewick_register_sinks(self) -> list[ComponentSpec]:
        return [ComponentSpec("mem", "sink", MemorySink)]


def _settings(**raw: object) -> Settings:
    return Settings.model_validate({"sources": {}, **raw})


def test_the_configured_sinks_reader_is_built_from_its_validated_section(tmp_path: Path) -> None:
    settings = _settings(sink={"sqlite": {"path": str(tmp_path / "c.db"), "busy_timeout": 0.5}})
    reader = open_reader(settings)
    assert isinstance(reader, SqliteReader)
    assert (reader.path, reader.busy_timeout) == (tmp_path / "c.db", 0.5)
    assert reader.target() == str(tmp_path / "c.db")


def test_bad_sections_unknown_sinks_and_sinks_without_a_reader_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sink\.sqlite"):
        open_reader(_settings(sink={"sqlite": {"busy_timeout": -1}}))
    with pytest.raises(UnknownComponent):
        open_reader(_settings(), sink="nosuch")
    hooks = build_plugin_manager(extra=[("mem", _MemoryPlugin())], load_entry_points=False)
    with pytest.raises(ConfigError, match="no reader without the daemon"):
        open_reader(_settings(sink={"use": "mem"}), hooks=hooks)


def test_the_ledger_is_the_sinks_default_state_file_or_the_configured_one(tmp_path: Path) -> None:
    settings = _settings(daemon={"data_dir": str(tmp_path)})
    key = state_key("sqlite", "/data/c.db")
    assert ledger_path(settings, "sqlite", "/data/c.db") == tmp_path / f"backfill-{key}.sqlite"
    configured = _settings(daemon={"data_dir": str(tmp_path)}, sources={"hyperliquid-backfill": {"state_file": "x.db"}})
    assert ledger_path(configured, "sqlite", "/data/c.db") == tmp_path / "x.db"


def test_only_a_sink_spec_may_carry_a_reader() -> None:
    with pytest.raises(ValueError, match="only a sink has a reader"):
        ComponentSpec("feed", "source", MemorySink, reader=lambda config: SqliteReader(Path("x")))
