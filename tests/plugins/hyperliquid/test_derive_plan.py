"""Native or derived: the split of intervals within the per-IP subscription limit."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from candlewick.model import INTERVALS
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.derive_plan import PlanError, plan_intervals, subscription_limit

ALL = list(INTERVALS)


def test_what_fits_stays_native_and_the_asked_for_derivations_hold() -> None:
    plan = plan_intervals(60, ALL, ["3m", "1M"], limit=1000)
    assert plan.derived == ("3m", "1M")
    assert plan.forced == ()
    assert plan.native == tuple(i for i in ALL if i not in ("3m", "1M"))
    assert plan.subscriptions == 60 * 12


def test_over_the_limit_the_shortest_intervals_are_derived_until_it_fits() -> None:
    plan = plan_intervals(230, ALL, [], limit=1000)
    assert plan.subscriptions <= 1000
    assert plan.native == ("1m", "3d", "1w", "1M")
    assert plan.forced == ("3m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "1d")
    assert set(plan.native) | set(plan.derived) == set(ALL)
    assert "230 coins x 14 subscribed intervals would need 3220" in plan.explain(230)


def test_limits_that_cannot_be_kept_are_a_clear_error() -> None:
    with pytest.raises(PlanError, match="1001 subscriptions even with every interval but 1m derived"):
        plan_intervals(1001, ALL, [], limit=1000)
    with pytest.raises(PlanError, match='add "1m" to intervals'):
        plan_intervals(600, ["1h", "4h"], [], limit=1000)
    assert subscription_limit(50) == 500
    assert subscription_limit(1000) == 1000


def test_config_keys_are_checked_at_load() -> None:
    cfg = HyperliquidConfig(intervals=["1m", "5m", "1h"], derive=["5m", "5m"])
    assert cfg.derive == ["5m"]
    assert cfg.interval_plan().derived == ("5m",)
    with pytest.raises(ValidationError, match="1m cannot be derived"):
        HyperliquidConfig(derive=["1m"])
    with pytest.raises(ValidationError, match="derive lists 4h, which intervals does not"):
        HyperliquidConfig(intervals=["1m", "1h"], derive=["4h"])
    with pytest.raises(ValidationError, match='add "1m" to intervals'):
        HyperliquidConfig(intervals=["1h", "4h"], derive=["4h"])
