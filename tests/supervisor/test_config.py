"""Config: search order, environment overrides, secrets from files, clear errors, masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, field_validator

from candlewick.config import find_config_file, load_settings, mask_secrets, validate_section
from candlewick.errors import ConfigError
from candlewick.model import check_interval


class HLLike(BaseModel):
    """A plugin section model shaped like the Hyperliquid one."""

    model_config = ConfigDict(extra="forbid")
    coins: list[str] = ["BTC"]
    intervals: list[str] = ["1m", "1h"]

    @field_validator("intervals")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        return [check_interval(i) for i in v]


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No file means built-in defaults: hyperliquid source, sqlite sink, memory buffer."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    settings = load_settings(environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert settings.source_path in (None, Path("/etc/candlewick/candlewick.toml"))
    assert settings.sink.use == "sqlite"
    assert settings.buffer.use == "memory"
    assert list(settings.sources) == ["hyperliquid"]
    assert settings.daemon.shutdown_timeout == 10


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config, then $CANDLEWICK_CONFIG, then ./candlewick.toml, then $XDG_CONFIG_HOME."""
    monkeypatch.chdir(tmp_path)
    xdg = tmp_path / "xdg"
    (xdg / "candlewick").mkdir(parents=True)
    xdg_file = xdg / "candlewick" / "candlewick.toml"
    xdg_file.write_text("")
    env = {"XDG_CONFIG_HOME": str(xdg)}
    assert find_config_file(None, env) == xdg_file
    (tmp_path / "candlewick.toml").write_text("")
    assert find_config_file(None, env) == Path("candlewick.toml")
    named = tmp_path / "named.toml"
    named.write_text("")
    assert find_config_file(None, {**env, "CANDLEWICK_CONFIG": str(named)}) == named
    explicit = tmp_path / "explicit.toml"
    explicit.write_text("")
    assert find_config_file(explicit, {**env, "CANDLEWICK_CONFIG": str(named)}) == explicit
    with pytest.raises(ConfigError, match="does not exist"):
        find_config_file(tmp_path / "missing.toml", env)


def test_environment_beats_file_and_nests(tmp_path: Path) -> None:
    """CANDLEWICK_<SECTION>__<KEY> overrides the file, nested by __."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sink]\nuse = "sqlite"\n[sink.sqlite]\npath = "a.db"\n[daemon]\nshutdown_timeout = 4\n')
    settings = load_settings(
        cfg,
        environ={
            "CANDLEWICK_SINK__USE": "timescaledb",
            "CANDLEWICK_SINK__TIMESCALEDB__DSN": "postgresql://u@h/db",
            "CANDLEWICK_DAEMON__SHUTDOWN_TIMEOUT": "7",
        },
    )
    assert settings.source_path == cfg
    assert settings.sink.use == "timescaledb"
    assert settings.sink.plugin_options("timescaledb") == {"dsn": "postgresql://u@h/db"}
    assert settings.sink.plugin_options("sqlite") == {"path": "a.db"}
    assert settings.daemon.shutdown_timeout == 7


def test_secret_from_file_variable(tmp_path: Path) -> None:
    """CANDLEWICK_..._FILE reads the value from a file (Docker secrets)."""
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    settings = load_settings(
        None,
        environ={"CANDLEWICK_SINK__TIMESCALEDB__PASSWORD_FILE": str(secret), "XDG_CONFIG_HOME": str(tmp_path)},
    )
    assert settings.sink.plugin_options("timescaledb") == {"password": "s3cret"}
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(None, environ={"CANDLEWICK_SINK__X__PASSWORD_FILE": str(tmp_path / "nope")})


def test_bad_core_value_names_key_value_and_allowed(tmp_path: Path) -> None:
    """An invalid value exits with one message naming the key, value and what is allowed."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[logging]\nformat = "xml"\n')
    with pytest.raises(ConfigError, match=r"logging\.format: 'xml' is not valid: Input should be 'text' or 'json'"):
        load_settings(cfg, environ={})


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    """A typo in a core key is refused, not ignored."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[daemon]\nshutdown_timout = 3\n")
    with pytest.raises(ConfigError, match=r"daemon\.shutdown_timout: unknown key"):
        load_settings(cfg, environ={})


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sink\n")
    with pytest.raises(ConfigError, match=r"c\.toml: not valid TOML"):
        load_settings(cfg, environ={})


def test_plugin_section_error_reads_like_the_contract() -> None:
    """`sources.hyperliquid.intervals: '7m' is not one of 1m, 3m, 5m, ...`."""
    with pytest.raises(ConfigError) as err:
        validate_section(HLLike, {"intervals": ["1m", "7m"]}, prefix="sources.hyperliquid")
    assert str(err.value).startswith("sources.hyperliquid.intervals: '7m' is not one of 1m, 3m, 5m, 15m,")


def test_plugin_lists_from_environment_strings() -> None:
    """Env values for list keys may be JSON or comma separated."""
    assert validate_section(HLLike, {"coins": '["BTC","ETH"]'}, prefix="s").coins == ["BTC", "ETH"]
    assert validate_section(HLLike, {"coins": "BTC, ETH"}, prefix="s").coins == ["BTC", "ETH"]


def test_secrets_are_masked() -> None:
    dump = {
        "sink": {"timescaledb": {"dsn": "postgresql://bob:hunter2@db:5432/x", "password": "pw"}},
        "control": {"token_file": "/x"},
    }
    masked = mask_secrets(dump)
    assert masked["sink"]["timescaledb"] == {"dsn": "postgresql://bob:********@db:5432/x", "password": "********"}
    assert masked["control"] == {"token_file": "/x"}
