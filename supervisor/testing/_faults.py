"""The fake exchange's fault switches, what it counts, and the garbage frames it can send."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GARBAGE", "RETENTION", "ExchangeStats", "Faults"]

#: The exchange keeps this many candles per market and returns at most this many per response.
RETENTION = 5000
GARBAGE: tuple[str, ...] = (
    "this is not json",
    '{"channel":"candle","data":{"t":"soon"',
    '{"channel":"candle","data":{"t":1,"T":2,"s":"BTC","i":"1m","o":1.5,"c":"x","h":"1","l":"1","v":"1","n":1}}',
    '{"channel":"candle","data":[]}',
    '{"channel":"error","data":{"not":"a string"}}',
    "[1,2,3]",
    '{"data":"no channel"}',
)


@dataclass
class Faults:
    """Switches tests flip while the exchange runs."""

    #: Every websocket goes silent (no candles, acks or pongs) while set; TCP stays open.
    stall: bool = False
    #: Each candle push is sent twice.
    duplicates: bool = False
    #: After each push, the previous (older) version of that candle is sent again.
    out_of_order: bool = False
    #: The last trades of every candle are never pushed: the websocket's final version is partial.
    miss_final_push: bool = False
    #: Probability per push round and connection of one garbage frame.
    garbage_rate: float = 0.0
    #: The next N REST requests are answered 429 with body ``null``.
    rate_limit_requests: int = 0
    #: The next N REST requests are answered 500.
    server_error_requests: int = 0
    #: Items per ``candleSnapshot`` response (5000; set 500 to mimic the generic docs note).
    page_limit: int = RETENTION
    #: New TCP connections are closed at once.
    refuse_connections: bool = False
    #: Websocket upgrades are answered 503 while REST keeps working (a partial outage).
    refuse_websockets: bool = False
    #: Subscriptions to these coins are refused with ``Invalid subscription {...}``.
    reject_coins: set[str] = field(default_factory=set)


@dataclass
class ExchangeStats:
    """What the exchange saw, for assertions."""

    ws_connections: int = 0
    subscribes: int = 0
    unsubscribes: int = 0
    pings: int = 0
    candle_frames: int = 0
    garbage_frames: int = 0
    rest_requests: int = 0
    rest_by_type: dict[str, int] = field(default_factory=dict)
    rest_status: dict[int, int] = field(default_factory=dict)
    rest_weight: int = 0
    rate_limited: int = 0
