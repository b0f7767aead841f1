"""Documentation keeps up with the code: every config key, hook and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from candlewick import hookspecs
from candlewick.cli import COMMANDS
from candlewick.commands.check_config import effective_config
from candlewick.config import Settings, load_settings
from candlewick.pluginmanager import build_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "etc" / "candlewick.toml"
README = (ROOT / "README.md").read_text()


def _documented_keys() -> dict[str, set[str]]:
    """Keys mentioned per table in the sample config, set or commented out."""
    table = ""
    keys: dict[str, set[str]] = {}
    for line in SAMPLE.read_text().splitlines():
        header = re.match(r"^\[([\w.-]+)\]\s*$", line)
        if header:
            table = header.group(1)
            keys.setdefault(table, set())
            continue
        key = re.match(r"^#?\s?(\w+) =", line)
        if key:
            keys.setdefault(table, set()).add(key.group(1))
    return keys


def _fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_sample_config_is_valid_for_every_plugin() -> None:
    """etc/candlewick.toml loads, and each plugin section passes its plugin's own model."""
    settings = load_settings(SAMPLE, environ={})
    effective = effective_config(settings, build_plugin_manager())
    assert effective["sources"]["hyperliquid"]["coins"] == ["BTC"]


def test_every_core_key_is_in_the_sample_config() -> None:
    documented = _documented_keys()
    for section in ("spool", "control", "metrics", "web", "logging", "daemon"):
        model = Settings.model_fields[section].annotation
        assert isinstance(model, type)
        assert issubclass(model, BaseModel)
        missing = _fields(model) - documented.get(section, set())
        assert not missing, f"[{section}] lacks {sorted(missing)} in etc/candlewick.toml"
    from candlewick.config import RestartSection

    missing = _fields(RestartSection) - documented["restart.default"]
    assert missing <= {"critical"}, missing
    assert "critical" in SAMPLE.read_text()


def test_every_builtin_plugin_key_is_in_the_sample_config() -> None:
    documented = _documented_keys()
    hooks = build_plugin_manager()
    tables = {"source": "sources", "buffer": "buffer", "sink": "sink"}
    for (kind, name), spec in hooks.component_specs().items():
        if spec.config_model is None:
            continue
        table = f"{tables[kind]}.{name}"
        missing = _fields(spec.config_model) - documented.get(table, set())
        assert not missing, f"[{table}] lacks {sorted(missing)} in etc/candlewick.toml"


def test_every_hook_is_documented_in_the_readme() -> None:
    hooks = [name for name in dir(hookspecs) if name.startswith("candlewick_")]
    assert hooks
    for name in hooks:
        assert f"`{name}(" in README, f"{name} is not documented in README.md"


def test_every_command_is_in_the_readme() -> None:
    for module in COMMANDS:
        command = module.replace("_", "-")
        assert f"candlewick {command}" in README, f"`candlewick {command}` is not in README.md"
