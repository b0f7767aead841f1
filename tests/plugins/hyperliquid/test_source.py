"""The live source over real sockets against the fake exchange."""

from __future__ import annotations

import itertools

import anyio
import pytest

from candlewick.errors import SourceError
from candlewick.model import Candle
from candlewick.runtime import names
from candlewick.testing import FakeExchange, ScaledClock

from .conftest import Harness, make_source, running_source

pytestmark = pytest.mark.anyio


def _live(h: Harness, coin: str = "BTC", interval: str = "1m") -> list[Candle]:
    return [c for c in h.candles if c.market == (coin, interval) and c.origin == "live"]


async def test_subscribes_acks_and_streams(exchange: FakeExchange) -> None:
    """One connection subscribes every market, gets acks, and live candles flow."""
    async with running_source(exchange, intervals=["1m", "5m"]) as h:
        link = h.source.links[0]
        await h.wait_for(lambda: link.status()["subscribed"] == 2)
        assert sorted(exchange.subscriptions()) == [("BTC", "1m"), ("BTC", "5m")]
        assert exchange.connections == 1
        await h.wait_for(lambda: _live(h) and _live(h, "BTC", "5m"))
        assert h.metric(names.CANDLES_IN, source="hyperliquid", coin="BTC", interval="1m") >= 1
        assert h.metric(names.FRAMES, source="hyperliquid") >= 3  # greeting, acks, candles
        assert h.metric(names.LAST_FRAME, source="hyperliquid", coin="BTC", interval="1m") > 0
        connected = h.events_of(names.EV_CONNECTED)
        assert len(connected) == 1
        assert connected[0].source == "hyperliquid"
        assert connected[0].data == {"markets": [["BTC", "1m"], ["BTC", "5m"]], "disconnected_since": None}
        assert h.source.describe()["markets"] == ["BTC/1m", "BTC/5m"]


async def test_pings_keep_a_quiet_connection_alive() -> None:
    """The server drops connections silent for its idle timeout; our pings keep it open."""
    async with (
        FakeExchange(seed=1, push_interval=0.05, idle_timeout=0.5) as ex,
        running_source(ex, ping_interval=0.1, pong_timeout=0.3) as h,
    ):
        await anyio.sleep(1.5)
        assert ex.stats.ws_connections == 1
        assert ex.stats.pings >= 5
        assert h.metric(names.RECONNECTS, source="hyperliquid") == 0


async def test_without_pings_the_idle_server_drops_us_and_we_reconnect() -> None:
    """Control case: pings slower than the idle timeout lead to a drop, then a reconnect."""
    async with (
        FakeExchange(seed=1, push_interval=0.05, idle_timeout=0.3) as ex,
        running_source(ex, ping_interval=5.0) as h,
    ):
        await h.wait_for(lambda: ex.stats.ws_connections >= 2)
        await h.wait_for(lambda: h.metric(names.RECONNECTS, source="hyperliquid") >= 1)


async def test_silent_stall_leads_to_reconnect_and_catch_up(exchange: FakeExchange) -> None:
    """A half-open socket (no pong, no frame) is detected and replaced; history is caught up."""
    async with running_source(exchange) as h:
        await h.wait_for(lambda: _live(h))
        snapshots_before = exchange.stats.rest_by_type.get("candleSnapshot", 0)
        assert exchange.stall_connections() == 1
        await h.wait_for(lambda: exchange.stats.ws_connections == 2)
        await h.wait_for(lambda: h.source.links[0].status()["subscribed"] == 1)
        assert h.metric(names.RECONNECTS, source="hyperliquid") >= 1
        assert "stalled" in (h.source.links[0].last_error or "")
        connected = h.events_of(names.EV_CONNECTED)
        assert len(connected) == 2
        assert isinstance(connected[1].data["disconnected_since"], int)
        await h.wait_for(lambda: exchange.stats.rest_by_type.get("candleSnapshot", 0) > snapshots_before)


async def test_drop_leads_to_reconnect_and_resubscribe(exchange: FakeExchange) -> None:
    """A dropped connection is reopened and every market subscribed again."""
    async with running_source(exchange, intervals=["1m", "15m"]) as h:
        await h.wait_for(lambda: h.source.links[0].status()["subscribed"] == 2)
        assert exchange.drop_connections() == 1
        await h.wait_for(lambda: exchange.stats.ws_connections == 2 and len(exchange.subscriptions()) == 2)
        assert exchange.stats.subscribes == 4
        await h.wait_for(lambda: h.source.links[0].status()["subscribed"] == 2)
        assert len(h.events_of(names.EV_DISCONNECTED)) == 1
        count = len(_live(h))
        await h.wait_for(lambda: len(_live(h)) > count)


async def test_an_unreachable_exchange_is_retried_soon_and_rejoined_promptly(exchange: FakeExchange) -> None:
    """While no TCP connection can be made, the backoff stays under reconnect_unreachable_max.

    Uncapped, the ceilings 0.05, 0.1, 0.2 ... 60 s would allow a dozen attempts in 3 s only with
    odds of about 1 in 10 000; capped at 0.1 s there are dozens, and the feed is back at once.
    """
    async with running_source(exchange, reconnect_initial=0.05, reconnect_max=60.0, reconnect_unreachable_max=0.1) as h:
        await h.wait_for(lambda: h.source.links[0].status()["subscribed"] == 1)
        exchange.go_offline()
        await anyio.sleep(3.0)
        assert h.metric(names.RECONNECTS, source="hyperliquid") >= 12
        assert "cannot reach" in (h.source.links[0].last_error or "")
        await exchange.go_online()
        await h.wait_for(lambda: exchange.stats.ws_connections == 2, timeout=3.0)
        await h.wait_for(lambda: h.source.links[0].status()["subscribed"] == 1)


async def test_garbage_frames_are_counted_and_survived(exchange: FakeExchange) -> None:
    """Each malformed frame is counted; the connection and the feed carry on."""
    async with running_source(exchange) as h:
        await h.wait_for(lambda: _live(h))
        await exchange.inject_garbage()
        await h.wait_for(lambda: h.metric(names.MALFORMED, source="hyperliquid") == 7)
        count = len(_live(h))
        await h.wait_for(lambda: len(_live(h)) > count)
        assert exchange.stats.ws_connections == 1
        assert h.metric(names.RECONNECTS, source="hyperliquid") == 0


async def test_duplicates_and_out_of_order_never_move_a_candle_backwards(exchange: FakeExchange) -> None:
    """With duplicated and reordered pushes, each candle's emitted versions only move forward."""
    exchange.faults.duplicates = True
    exchange.faults.out_of_order = True
    async with running_source(exchange) as h:
        await h.wait_for(lambda: len(_live(h)) >= 10)
        await anyio.sleep(0.3)
    by_t: dict[int, list[Candle]] = {}
    for c in h.candles:
        by_t.setdefault(c.open_time, []).append(c)
    for versions in by_t.values():
        for older, newer in itertools.pairwise(versions):
            assert newer.supersedes(older)
            assert (newer.trades, newer.closed) != (older.trades, older.closed) or newer == older


async def test_already_subscribed_is_harmless(exchange: FakeExchange) -> None:
    """Subscribing twice draws 'Already subscribed', which leaves the market subscribed."""
    async with running_source(exchange) as h:
        link = h.source.links[0]
        await h.wait_for(lambda: link.status()["subscribed"] == 1)
        assert link.ws is not None
        from candlewick.plugins.hyperliquid.protocol import subscribe_frame

        await link.ws.send_text(subscribe_frame("BTC", "1m"))
        await anyio.sleep(0.2)
        assert link.status()["subscribed"] == 1
        assert h.metric(names.RECONNECTS, source="hyperliquid") == 0


async def test_rejected_subscription_is_reported(exchange: FakeExchange) -> None:
    """'Invalid subscription' marks that market rejected and publishes an event; others go on."""
    exchange.faults.reject_coins = {"ETH"}
    async with running_source(exchange, coins=["BTC", "ETH"]) as h:
        link = h.source.links[0]
        await h.wait_for(lambda: link.status()["rejected"] == ["ETH/1m"])
        assert [e.data["coin"] for e in h.events_of("subscription.rejected")] == ["ETH"]
        await h.wait_for(lambda: _live(h))


async def test_unknown_coin_is_refused_with_close_matches(exchange: FakeExchange) -> None:
    """An unknown coin stops the source at start-up with a message naming close matches."""
    source, _, receive = make_source(exchange, coins=["BTCC", "ETH"])
    with receive, pytest.raises(SourceError, match=r"unknown coin 'BTCC'; close matches: BTC"):
        await source.run()
    assert exchange.stats.ws_connections == 0


async def test_markets_can_be_added_and_removed_while_running(exchange: FakeExchange) -> None:
    """add_market subscribes (and backfills) at once; remove_market unsubscribes."""
    async with running_source(exchange, backfill_on_start="1h") as h:
        await h.wait_for(lambda: h.source.links[0].status()["subscribed"] == 1)
        await h.source.add_market("ETH", "5m")
        assert h.source.markets() == [("BTC", "1m"), ("ETH", "5m")]
        await h.wait_for(lambda: ("ETH", "5m") in exchange.subscriptions())
        await h.wait_for(lambda: any(c.market == ("ETH", "5m") and c.origin == "rest" for c in h.candles))
        await h.wait_for(lambda: _live(h, "ETH", "5m"))
        with pytest.raises(SourceError, match="close matches"):
            await h.source.add_market("ETHH", "5m")
        await h.source.remove_market("ETH", "5m")
        await h.wait_for(lambda: ("ETH", "5m") not in exchange.subscriptions())
        assert h.source.markets() == [("BTC", "1m")]
        assert exchange.stats.unsubscribes == 1


async def test_backfill_max_brings_the_newest_5000_candles(exchange: FakeExchange) -> None:
    """backfill_on_start = "max" emits the 5000 candles the exchange keeps, closed where T passed."""
    async with running_source(exchange, intervals=["1h"], backfill_on_start="max") as h:
        await h.wait_for(lambda: len({c.open_time for c in h.candles}) >= 5000, timeout=10)
        assert len({c.open_time for c in h.candles}) == 5000
        closed = [c for c in h.candles if c.origin == "rest" and c.closed]
        assert len(closed) == 4999
        truth = exchange.truth("BTC", "1h", closed[0].open_time, closed[-1].open_time)
        assert [c.open_time for c in closed] == [c.open_time for c in truth]
        assert [(c.open, c.high, c.low, c.close, c.volume, c.trades) for c in closed] == [
            (c.open, c.high, c.low, c.close, c.volume, c.trades) for c in truth
        ]


async def test_live_candles_close_and_match_the_exchange_truth() -> None:
    """On a 60x clock, 1m candles close by successor or by clock and equal what the exchange served."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=3, clock=clock, push_interval=1.0) as ex:
        async with running_source(ex, clock=clock, ping_interval=20, pong_timeout=10, close_grace=2) as h:
            await h.wait_for(lambda: sum(c.closed for c in h.candles) >= 3, timeout=10)
        closed = [c for c in h.candles if c.closed]
        assert len({c.open_time for c in closed}) == len(closed)
        for c in closed:
            [truth] = ex.truth("BTC", "1m", c.open_time, c.open_time)
            assert (c.open, c.high, c.low, c.close, c.volume, c.trades) == (
                truth.open, truth.high, truth.low, truth.close, truth.volume, truth.trades,
            )  # fmt: skip


async def test_subscriptions_split_across_connections_only_past_the_limit(exchange: FakeExchange) -> None:
    """With room for 2 subscriptions per connection, 3 markets use 2 connections; a 4th fills the second."""
    async with running_source(exchange, intervals=["1m", "5m", "15m"], max_subscriptions_per_connection=2) as h:
        await h.wait_for(lambda: [lk.status()["subscribed"] for lk in h.source.links] == [2, 1])
        assert exchange.connections == 2
        await h.source.add_market("ETH", "1m")
        await h.wait_for(lambda: [lk.status()["subscribed"] for lk in h.source.links] == [2, 2])
        await h.source.add_market("ETH", "5m")
        await h.wait_for(lambda: exchange.connections == 3)
        assert len(h.events_of(names.EV_CONNECTED)) == 3


async def test_ingest_routes_candles_through_the_closing_tracker(exchange: FakeExchange) -> None:
    """Candles handed in by gap repair are emitted closed once, and never as an older version."""
    async with running_source(exchange) as h:
        await h.wait_for(lambda: h.source.links[0].status()["subscribed"] == 1)
        assert h.source.rest is not None
        now = exchange.now_ms()
        repaired = await h.source.rest.fetch_range("BTC", "1m", now - 10 * 60_000, now - 5 * 60_000)
        await h.source.ingest(repaired)
        await h.wait_for(lambda: len([c for c in h.candles if c.origin == "rest"]) >= len(repaired))
        emitted = [c for c in h.candles if c.origin == "rest"]
        assert emitted == repaired
        assert all(c.closed for c in emitted)
        await h.source.ingest(repaired)  # the same again changes nothing
        await anyio.sleep(0.1)
        assert [c for c in h.candles if c.origin == "rest"] == repaired


async def test_an_outage_leaves_no_hole() -> None:
    """On a 120x clock, three minutes without websocket are filled from REST: every minute closed, as served."""
    clock = ScaledClock(speed=120)
    async with FakeExchange(seed=5, clock=clock, push_interval=2.0) as ex:
        timings = {"ping_interval": 20, "pong_timeout": 40, "reconnect_initial": 2, "reconnect_max": 10}
        async with running_source(ex, clock=clock, close_grace=2, **timings) as h:
            await h.wait_for(lambda: sum(c.closed for c in h.candles) >= 2, timeout=10)
            ex.faults.refuse_websockets = True
            ex.drop_connections()
            await anyio.sleep(1.5)  # three minutes of exchange time
            ex.faults.refuse_websockets = False
            await h.wait_for(lambda: len(h.events_of(names.EV_CONNECTED)) == 2, timeout=10)
            down_at = h.events_of(names.EV_CONNECTED)[1].data["disconnected_since"]
            await h.wait_for(lambda: max(c.open_time for c in h.candles if c.closed) > down_at + 4 * 60_000, timeout=10)
    closed = {c.open_time: c for c in h.candles if c.closed}  # the last closed version of each minute
    first, last = min(closed), max(closed)
    truth = ex.truth("BTC", "1m", first, last)
    assert [c.open_time for c in truth] == list(range(first, last + 1, 60_000))
    assert sorted(closed) == [c.open_time for c in truth]
    for want in truth:
        got = closed[want.open_time]
        assert (got.open, got.high, got.low, got.close, got.volume, got.trades) == (
            want.open, want.high, want.low, want.close, want.volume, want.trades,
        )  # fmt: skip


@pytest.mark.parametrize("confirm", [True, False])
async def test_rest_confirmation_repairs_candles_whose_last_update_was_missed(confirm: bool) -> None:
    """If the websocket never carries a candle's last trades, confirmation stores the final version."""
    clock = ScaledClock(speed=60)
    async with FakeExchange(seed=9, clock=clock, push_interval=1.0) as ex:
        ex.faults.miss_final_push = True
        options = {"ping_interval": 20, "pong_timeout": 30, "close_grace": 2}
        async with running_source(ex, clock=clock, confirm_closed=confirm, confirm_delay=3, **options) as h:
            await h.wait_for(lambda: sum(c.closed and c.origin == "live" for c in h.candles) >= 3, timeout=10)
            await anyio.sleep(0.3)  # a confirmation round (3 s of exchange time) after the third close
            live_closed = [c for c in h.candles if c.closed and c.origin == "live"]
            final = {c.open_time: c for c in h.candles if c.closed}  # last closed version per candle
        checked = [c.open_time for c in live_closed[:2]]
        truth = {c.open_time: c for c in ex.truth("BTC", "1m", checked[0], checked[-1])}
        assert all(c.trades < truth[c.open_time].trades for c in live_closed[:2])  # the websocket saw partial ones
        if confirm:
            assert all(final[t] == truth[t] for t in checked)
            assert all(final[t].origin == "rest" for t in checked)
        else:
            assert all(final[t].trades < truth[t].trades for t in checked)


async def test_interrupted_start_up_history_is_redone_after_a_reconnect(exchange: FakeExchange) -> None:
    """A drop in the middle of the start-up backfill does not lose the rest of the history."""
    exchange.faults.page_limit = 500
    async with running_source(exchange, intervals=["1h"], backfill_on_start="max") as h:
        await h.wait_for(lambda: any(c.origin == "rest" for c in h.candles))
        exchange.drop_connections()
        await h.wait_for(lambda: len(h.events_of(names.EV_CONNECTED)) == 2)
        # Paced by the REST weight budget (about 9 s of pages): the margin is for a loaded machine.
        await h.wait_for(lambda: len({c.open_time for c in h.candles}) >= 5000, timeout=20)
        assert h.source._history_done == {("BTC", "1h")}
