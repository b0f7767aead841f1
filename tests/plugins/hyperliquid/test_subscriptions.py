"""The subscription state machine of one connection, fed events synchronously."""

from __future__ import annotations

import json

from candlewick.plugins.hyperliquid.protocol import ServerError, parse_frame, subscribe_frame, unsubscribe_frame
from candlewick.plugins.hyperliquid.subscriptions import Change, ErrorVerdict, Subscriptions, SubState

BTC, ETH, SOL = ("BTC", "1m"), ("ETH", "1m"), ("SOL", "5m")


def error(text: str) -> ServerError:
    event = parse_frame(json.dumps({"channel": "error", "data": text}))
    assert isinstance(event, ServerError)
    return event


def test_connected_subscribes_every_market_in_order() -> None:
    subs = Subscriptions([BTC, ETH], capacity=10)
    assert subs.state(BTC) is SubState.NEW
    step = subs.connected()
    assert step.frames == [subscribe_frame(*BTC), subscribe_frame(*ETH)]
    assert step.changes == [Change(BTC, SubState.NEW, SubState.PENDING), Change(ETH, SubState.NEW, SubState.PENDING)]
    assert subs.count(SubState.PENDING) == 2


def test_ack_or_first_candle_confirms_a_pending_subscription() -> None:
    subs = Subscriptions([BTC, ETH], capacity=10)
    subs.connected()
    assert subs.acked(BTC, "subscribe").changes == [Change(BTC, SubState.PENDING, SubState.SUBSCRIBED)]
    assert subs.acked(ETH, "unsubscribe").changes == [], "only a subscribe ack confirms"
    assert subs.acked(SOL, "subscribe").changes == [], "not ours"
    assert subs.candle(ETH)
    assert subs.state(ETH) is SubState.SUBSCRIBED
    assert not subs.candle(SOL), "a candle of a market this connection does not follow is dropped"


def test_markets_added_while_disconnected_wait_for_the_connection() -> None:
    subs = Subscriptions([BTC], capacity=10)
    step = subs.add(ETH)
    assert step.frames == []
    assert subs.state(ETH) is SubState.NEW
    assert subs.connected().frames == [subscribe_frame(*BTC), subscribe_frame(*ETH)]
    assert subs.add(ETH).frames == [], "adding a followed market twice does nothing"


def test_add_and_remove_while_connected_send_at_once() -> None:
    subs = Subscriptions([BTC], capacity=2)
    subs.connected()
    step = subs.add(ETH)
    assert step.frames == [subscribe_frame(*ETH)]
    assert subs.state(ETH) is SubState.PENDING
    assert subs.room == 0
    step = subs.remove(BTC)
    assert step.frames == [unsubscribe_frame(*BTC)]
    assert step.changes == [Change(BTC, SubState.PENDING, None)]
    assert BTC not in subs
    assert subs.remove(BTC).frames == [], "removing an unknown market does nothing"
    assert subs.markets == [ETH]


def test_remove_while_disconnected_sends_nothing() -> None:
    subs = Subscriptions([BTC], capacity=2)
    subs.connected()
    subs.disconnected()
    assert subs.remove(BTC).frames == []
    assert len(subs) == 0


def test_refusal_naming_a_market_rejects_it_until_the_next_connection() -> None:
    subs = Subscriptions([BTC, ETH], capacity=10)
    subs.connected()
    refusal = error('Invalid subscription {"type":"candle","coin":"ETH","interval":"1m"}')
    verdict, step = subs.error(refusal)
    assert verdict is ErrorVerdict.REJECTED
    assert step.changes == [Change(ETH, SubState.PENDING, SubState.REJECTED)]
    assert subs.in_state(SubState.REJECTED) == [ETH]
    subs.disconnected()
    assert subs.state(ETH) is SubState.REJECTED, "the exchange's last word stands while disconnected"
    assert subscribe_frame(*ETH) in subs.connected().frames
    assert subs.state(ETH) is SubState.PENDING


def test_error_verdicts() -> None:
    subs = Subscriptions([BTC], capacity=10)
    subs.connected()
    already = error('Already subscribed: {"type":"candle","coin":"BTC","interval":"1m"}')
    verdict, step = subs.error(already)
    assert verdict is ErrorVerdict.ALREADY_SUBSCRIBED
    assert step.changes == [Change(BTC, SubState.PENDING, SubState.SUBSCRIBED)]
    assert subs.state(BTC) is SubState.SUBSCRIBED
    other = error('Already subscribed: {"type":"candle","coin":"DOGE","interval":"1m"}')
    assert subs.error(other)[0] is ErrorVerdict.HARMLESS
    assert subs.error(error("Something went wrong"))[0] is ErrorVerdict.UNRELATED
    assert subs.error(error('Invalid subscription {"type":"candle","coin":"XRP","interval":"1m"}'))[0] is (
        ErrorVerdict.UNRELATED
    )
    assert subs.state(BTC) is SubState.SUBSCRIBED
