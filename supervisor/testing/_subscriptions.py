"""The fake exchange's websocket protocol, free of I/O: replies to requests and the candle frames.

The exchange's websocket shell feeds each received text to :func:`replies` and sends what it
returns; every push round it sends :func:`candle_frames` for each subscription. Replies follow
the reference: ``subscriptionResponse`` echoes, ``pong``, and error strings such as
``Already subscribed: {...}`` (with the keys reordered, as the exchange does) and
``Invalid subscription {...}``.
"""

from __future__ import annotations

import json
from typing import Any

import anyio

from candlewick.model import INTERVALS, Candle
from candlewick.testing._faults import ExchangeStats, Faults
from candlewick.testing._limits import MESSAGES_ERROR, SUBSCRIPTIONS_ERROR, IpLimits
from candlewick.testing._market import MarketModel
from candlewick.testing._websocket import ServerWebSocket

__all__ = ["MAX_SUBSCRIPTIONS", "WsClient", "candle_frames", "compact", "replies", "ws_candle"]

MAX_SUBSCRIPTIONS = 1000


class WsClient:
    """One websocket client of the fake."""

    def __init__(self, ws: ServerWebSocket, number: int, now: float) -> None:
        self.ws = ws
        self.number = number
        self.subs: dict[tuple[str, str], None] = {}
        self.pushed: dict[tuple[str, str], Candle] = {}
        self.last_recv = now
        self.stalled = False
        self.scope: anyio.CancelScope | None = None
        self.dropped = False


def ws_candle(c: Candle) -> dict[str, Any]:
    """A candle as the websocket pushes it."""
    return {
        "t": c.open_time, "T": c.close_time, "s": c.coin, "i": c.interval,
        "o": c.open, "c": c.close, "h": c.high, "l": c.low, "v": c.volume, "n": c.trades,
    }  # fmt: skip


def compact(obj: Any) -> str:
    """JSON without spaces, as the exchange writes it."""
    return json.dumps(obj, separators=(",", ":"))


def _error(message: str) -> dict[str, Any]:
    return {"channel": "error", "data": message}


def replies(
    client: WsClient,
    text: str,
    model: MarketModel,
    faults: Faults,
    stats: ExchangeStats,
    *,
    limits: IpLimits | None = None,
    now: tuple[float, int] | None = None,
) -> list[Any]:
    """What the exchange answers to one received text (subscriptions of ``client`` updated).

    ``limits`` and ``now`` (monotonic seconds, exchange ms) apply the per-IP limits and listings.
    """
    if limits is not None and now is not None and not limits.message(now[0]):
        return [_error(MESSAGES_ERROR)]
    try:
        msg = json.loads(text)
    except ValueError:
        msg = None
    malformed = [_error(f"Error parsing JSON into valid websocket request: {text}")]
    if not isinstance(msg, dict):
        return malformed
    method = msg.get("method")
    if method == "ping":
        stats.pings += 1
        return [{"channel": "pong"}]
    if method not in ("subscribe", "unsubscribe"):
        return malformed
    sub = msg.get("subscription")
    if (
        not isinstance(sub, dict)
        or sub.get("type") != "candle"
        or not isinstance(sub.get("coin"), str)
        or sub.get("interval") not in INTERVALS
    ):
        return malformed
    coin, interval = sub["coin"], str(sub["interval"])
    echo = {"type": "candle", "coin": coin, "interval": interval}
    reordered = compact({"type": "candle", "interval": interval, "coin": coin})
    key = (coin, interval)
    if method == "subscribe":
        stats.subscribes += 1
        spec = model.coin(coin)
        if spec is None or coin in faults.reject_coins or (now is not None and not spec.listed(now[1])):
            return [_error(f"Invalid subscription {compact(echo)}")]
        if key in client.subs:
            return [_error(f"Already subscribed: {reordered}")]
        if (limits is not None and not limits.subscribe()) or len(client.subs) >= MAX_SUBSCRIPTIONS:
            return [_error(SUBSCRIPTIONS_ERROR)]
        client.subs[key] = None
        return [{"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": echo}}]
    stats.unsubscribes += 1
    if key not in client.subs:
        return [_error(f"Already unsubscribed: {reordered}")]
    del client.subs[key]
    client.pushed.pop(key, None)
    return [{"channel": "subscriptionResponse", "data": {"method": "unsubscribe", "subscription": echo}}]


def candle_frames(client: WsClient, key: tuple[str, str], now: int, model: MarketModel, faults: Faults) -> list[str]:
    """The candle frames of one subscription for this push round (what ``client`` was sent is updated)."""
    coin, interval = key
    last = client.pushed.get(key)
    versions: list[Candle] = []
    current_t = model.open_time(interval, now)
    missing_final = faults.miss_final_push
    if last is not None and last.open_time < current_t and not missing_final:
        final = model.candle(coin, interval, last.open_time)
        if final is not None and final.trades != last.trades:
            versions.append(final)  # the last trades of the previous candle, pushed late
    state = model.state(coin, interval, now)
    if state is not None and missing_final:
        final = model.candle(coin, interval, state.open_time)
        if final is not None and state.trades >= final.trades - max(1, final.trades // 10):
            state = None  # the last tenth of the trades never reaches the websocket
    if state is not None and (last is None or (last.open_time, last.trades) != (state.open_time, state.trades)):
        versions.append(state)
    frames: list[str] = []
    for version in versions:
        frame = compact({"channel": "candle", "data": ws_candle(version)})
        frames.append(frame)
        if faults.duplicates:
            frames.append(frame)
        if faults.out_of_order and last is not None:
            frames.append(compact({"channel": "candle", "data": ws_candle(last)}))
        last = version
    if last is not None:
        client.pushed[key] = last
    return frames
