"""Market sets: parsing, resolution from the exchange's metadata, retirement, shards. Pure."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.shard import Shard, owner
from candlewick.plugins.hyperliquid.universe import (
    MarketSet,
    Metadata,
    Retirement,
    dexes_of,
    parse_spec,
    resolve,
)
from candlewick.testing import full_universe
from candlewick.testing._info import meta, perp_dexs, spot_meta
from candlewick.testing._market import MarketModel

from .conftest import recorded

SPOT = {
    "tokens": [{"name": "USDC", "index": 0}, {"name": "PURR", "index": 1}, {"name": "HYPE", "index": 150}],
    "universe": [
        {"name": "PURR/USDC", "tokens": [1, 0], "index": 0, "isCanonical": True},
        {"name": "@107", "tokens": [150, 0], "index": 107, "isCanonical": False},
    ],
}


def test_specs_parse_into_sets_and_names() -> None:
    assert parse_spec("*") == MarketSet("perp")
    assert parse_spec("spot:*") == MarketSet("spot")
    assert parse_spec("xyz:*") == MarketSet("perp", "xyz")
    assert parse_spec("xyz:XYZ100") == "xyz:XYZ100"
    assert parse_spec("PURR/USDC") == "PURR/USDC"
    assert [parse_spec(s).spec for s in ("*", "spot:*", "xyz:*")] == ["*", "spot:*", "xyz:*"]  # type: ignore[union-attr]
    for bad in ("B*C", ":*", "a:b:*", "PURR/*"):
        with pytest.raises(ValueError, match="not a market set"):
            parse_spec(bad)
    assert dexes_of(["*", "xyz:*", "abc:FOO", "BTC"]) == ["abc", "xyz"]


def test_config_accepts_sets_and_refuses_bad_spellings() -> None:
    cfg = HyperliquidConfig.model_validate({"coins": ["*", "PURR/USDC", "*"], "shard": " 2 / 3 "})
    assert cfg.coins == ["*", "PURR/USDC"]
    assert cfg.has_sets()
    assert cfg.named_coins() == ["PURR/USDC"]
    assert cfg.shard == "2/3"
    with pytest.raises(ValidationError, match="not a market set"):
        HyperliquidConfig.model_validate({"coins": ["BT*"]})
    for bad in ("0/3", "4/3", "1-3", "x"):
        with pytest.raises(ValidationError, match="not a shard"):
            HyperliquidConfig.model_validate({"shard": bad})


def test_a_set_resolves_from_the_recorded_mainnet_meta() -> None:
    answer = recorded("meta.json")["response"]
    md = Metadata.from_answers({"": answer}, SPOT)
    r = resolve(["*", "PURR/USDC"], md)
    names = [e["name"] for e in answer["universe"]]
    assert r.coins == [*names, "PURR/USDC"]  # meta's order, the named spot pair after
    assert r.sets == {"*": names}
    assert resolve(["spot:*"], md).coins == ["PURR/USDC", "@107"]  # spot as subscriptions name it


def test_delisted_perps_leave_sets_and_hip3_names_carry_their_dex() -> None:
    main = {"universe": [{"name": "BTC"}, {"name": "OLD", "isDelisted": True}, {"name": "ETH"}]}
    dex = {"universe": [{"name": "xyz:XYZ100"}, {"name": "GOLD"}]}  # with and without the prefix
    md = Metadata.from_answers({"": main, "xyz": dex}, None, [None, {"name": "xyz"}])
    r = resolve(["*", "xyz:*", "OLD", "abc:*"], md)
    assert r.coins == ["BTC", "ETH", "xyz:XYZ100", "xyz:GOLD", "OLD"]
    assert r.delisted == ["OLD"]
    assert r.unknown_dexes == ["abc"]


def test_the_fake_answers_resolve_to_its_universe() -> None:
    model = MarketModel(coins=full_universe())
    md = Metadata.from_answers({"": meta(model, None), "xyz": meta(model, "xyz")}, spot_meta(model), perp_dexs(model))
    r = resolve(["*", "spot:*", "xyz:*"], md)
    assert len(r.sets["*"]) == 240
    assert len(r.sets["spot:*"]) == 12
    assert len(r.sets["xyz:*"]) == 8
    assert all(c.startswith("xyz:") for c in r.sets["xyz:*"])
    assert not r.unknown_dexes


def test_a_market_is_retired_only_after_two_looks_without_it() -> None:
    rule = Retirement()
    assert rule.step(["A", "B"], ["A", "B", "C"]) == (["C"], [])
    assert rule.step(["A", "B", "C"], ["A", "C"]) == ([], [])  # B missing once: kept
    assert rule.step(["A", "B", "C"], ["A", "B", "C"]) == ([], [])  # back: the count restarts
    assert rule.step(["A", "B", "C"], ["A", "C"]) == ([], [])
    assert rule.step(["A", "B", "C"], ["A", "C"]) == ([], ["B"])


def test_shards_split_every_coin_once_and_a_new_coin_moves_nothing() -> None:
    coins = [f"C{k}" for k in range(600)]
    shares = [Shard(k, 3).share(coins) for k in (1, 2, 3)]
    assert sorted(c for share in shares for c in share) == sorted(coins)
    assert all(150 < len(share) < 250 for share in shares)  # about a third each
    assert [Shard(k, 3).share([*coins, "NEW"]) for k in (1, 2, 3)] != shares
    after = [[c for c in Shard(k, 3).share([*coins, "NEW"]) if c != "NEW"] for k in (1, 2, 3)]
    assert after == shares  # adding a coin moved no other
    # going from 3 to 4 daemons moves only what the new one wins
    moved = [c for c in coins if owner(c, 4) != 4 and owner(c, 4) != owner(c, 3)]
    assert moved == []
    assert owner("BTC", 3) == owner("BTC", 3)
    assert Shard(1, 1).owns("anything")
