"""At scale closes are decided from the websocket's own evidence; REST confirms only where it is missing."""

from __future__ import annotations

import anyio
import pytest

from candlewick.model import Candle
from candlewick.plugins.hyperliquid.confirm import Confirmer
from candlewick.testing import FakeExchange, ScaledClock

from .conftest import running_source

pytestmark = pytest.mark.anyio


def _closed(t: int) -> Candle:
    return Candle("BTC", "1m", t, t + 59_999, "1.0", "1.0", "1.0", "1.0", "1.0", 1, closed=True, origin="live")


def test_auto_confirms_every_close_only_while_it_fits_a_quarter_of_the_budget() -> None:
    rule = Confirmer("auto", delay=10.0, budget_per_minute=1200)
    rule.size([("BTC", "1m"), ("BTC", "1h")])
    small = rule.every
    rule.size([(f"C{k}", "1m") for k in range(20)])  # 20 x 21 = 420 weight a minute > 300
    assert (small, rule.every) == (True, False)
    rule.note(_closed(0), evidenced=True)
    rule.note(_closed(60_000), evidenced=False)
    assert rule.trusted == 1
    assert rule.pending == {("BTC", "1m"): {60_000: 119_999}}
    always = Confirmer(True, delay=10.0, budget_per_minute=1200)
    always.size([(f"C{k}", "1m") for k in range(20)])
    always.note(_closed(0), evidenced=True)
    assert always.pending == {("BTC", "1m"): {0: 59_999}}


async def test_evidenced_closes_cost_no_rest_and_unevidenced_ones_are_confirmed() -> None:
    """Busy BTC closes by its successors (trusted, no REST); only the others (the candle already
    open when the connection came up, clock closes) are confirmed over REST."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=9, clock=clock, push_interval=1.0) as ex:
        options = {"ping_interval": 20, "pong_timeout": 30, "close_grace": 2}
        async with running_source(ex, clock=clock, confirm_closed="evidence", confirm_delay=3, **options) as h:
            await h.wait_for(lambda: h.source.confirmer.trusted >= 3, timeout=15)
            await anyio.sleep(0.3)
            snapshots = ex.stats.rest_by_type.get("candleSnapshot", 0)
            trusted = h.source.confirmer.trusted
            assert h.source.describe()["confirm_closed"] == {"every": False, "trusted": trusted}
        live = [c for c in h.candles if c.closed and c.origin == "live"]
        assert trusted >= 3
        assert snapshots <= len(live) - trusted  # one request at most per close without evidence
        truth = {c.open_time: c for c in ex.truth("BTC", "1m", live[0].open_time, live[-1].open_time)}
        final = {c.open_time: c for c in h.candles if c.closed}  # the last closed version of each
        checked = [t for t in final if t in truth]
        assert len(checked) >= 3
        for t in checked:
            got, want = final[t], truth[t]
            assert (got.open, got.high, got.low, got.close, got.volume, got.trades) == (
                want.open, want.high, want.low, want.close, want.volume, want.trades,
            )  # fmt: skip
