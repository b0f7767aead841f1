"""The ``[sources.hyperliquid]`` section: public defaults and clear errors."""

from __future__ import annotations

import pytest

from candlewick.config import validate_section
from candlewick.errors import ConfigError
from candlewick.pluginmanager import build_plugin_manager
from candlewick.plugins.hyperliquid.config import HyperliquidConfig, parse_backfill


def test_public_contract_defaults() -> None:
    """The documented keys and defaults."""
    cfg = HyperliquidConfig()
    assert cfg.ws_url == "wss://api.hyperliquid.xyz/ws"
    assert cfg.rest_url == "https://api.hyperliquid.xyz"
    assert cfg.coins == ["BTC"]
    assert cfg.intervals == ["1m", "1h"]
    assert cfg.backfill_on_start == "max"
    assert cfg.rest_weight_per_minute == 1200
    assert 20 <= cfg.ping_interval <= 30


def test_bad_interval_names_the_allowed_ones() -> None:
    """A bad interval reads like "'7m' is not one of 1m, 3m, 5m, ..." and names the key."""
    with pytest.raises(ConfigError, match=r"sources\.hyperliquid\.intervals.*'7m' is not one of 1m, 3m, 5m, 15m"):
        validate_section(HyperliquidConfig, {"intervals": ["1m", "7m"]}, prefix="sources.hyperliquid")


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"ws_url": "https://x"}, "not a ws:// or wss:// URL"),
        ({"rest_url": "ftp://x"}, "not an http:// or https:// URL"),
        ({"coins": []}, "at least one coin"),
        ({"coins": [" BTC"]}, "surrounding spaces"),
        ({"backfill_on_start": "forever"}, "not 'max', 'none' or a duration"),
        ({"rest_weight_per_minute": 0}, "greater than 0"),
        ({"max_subscriptions_per_connection": 2000}, "less than or equal to 1000"),
        ({"colns": ["BTC"]}, "unknown key"),
    ],
)
def test_bad_values_are_clear_errors(raw: dict[str, object], match: str) -> None:
    """Each bad value names its key and what is allowed."""
    with pytest.raises(ConfigError, match=match):
        validate_section(HyperliquidConfig, raw, prefix="sources.hyperliquid")


def test_environment_strings_decode_to_lists() -> None:
    """CANDLEWICK_SOURCES__HYPERLIQUID__COINS=BTC,ETH works like a TOML list; duplicates collapse."""
    cfg = validate_section(HyperliquidConfig, {"coins": "BTC,ETH,BTC", "intervals": '["1m","1m"]'}, prefix="s")
    assert cfg.coins == ["BTC", "ETH"]
    assert cfg.intervals == ["1m"]
    assert cfg.markets() == [("BTC", "1m"), ("ETH", "1m")]


def test_backfill_windows() -> None:
    """max, none and durations."""
    assert parse_backfill("max") == "max"
    assert parse_backfill("NONE") is None
    assert parse_backfill("90m") == 90 * 60_000
    assert parse_backfill("7d") == 7 * 86_400_000
    assert parse_backfill("2w") == 14 * 86_400_000
    with pytest.raises(ValueError, match="duration"):
        parse_backfill("0d")


def test_every_field_has_a_docstring() -> None:
    """Each key is documented (the sample config and docs are generated from these)."""
    for name, field in HyperliquidConfig.model_fields.items():
        assert field.description, name


def test_plugin_registers_the_source_through_its_entry_point() -> None:
    """The entry point yields one source spec named hyperliquid that runs on both backends."""
    hooks = build_plugin_manager()
    spec = hooks.spec("source", "hyperliquid")
    assert spec.config_model is HyperliquidConfig
    assert spec.backends == frozenset({"asyncio", "trio"})
    assert str(spec.restart.restart) == "temporary"
