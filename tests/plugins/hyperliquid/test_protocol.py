"""The sans-I/O protocol core: client frames, every server frame kind, strict validation, fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from candlewick.model import INTERVALS, Candle
from candlewick.plugins.hyperliquid.protocol import (
    GREETING,
    PING_FRAME,
    CandleUpdate,
    Greeting,
    Malformed,
    Pong,
    ServerError,
    SubscriptionAck,
    UnknownChannel,
    parse_candle_list,
    parse_frame,
    subscribe_frame,
    unsubscribe_frame,
)

from .conftest import recorded

CANDLE = {
    "t": 1710146280000, "T": 1710146339999, "s": "BTC", "i": "1m",
    "o": "71400.0", "c": "71411.0", "h": "71422.0", "l": "71389.0", "v": "1.20407", "n": 20,
}  # fmt: skip


def frame(data: object, channel: str = "candle") -> str:
    return json.dumps({"channel": channel, "data": data})


def test_client_frames_match_the_reference() -> None:
    """Subscribe, unsubscribe and ping frames are byte-for-byte the documented ones."""
    assert subscribe_frame("BTC", "1m") == (
        '{"method":"subscribe","subscription":{"type":"candle","coin":"BTC","interval":"1m"}}'
    )
    assert unsubscribe_frame("BTC", "1m").startswith('{"method":"unsubscribe","subscription":')
    assert PING_FRAME == '{"method":"ping"}'


def test_candle_object_becomes_one_candle() -> None:
    """A candle frame's data is one object; fields map to the Candle exactly, strings kept."""
    event = parse_frame(frame(CANDLE))
    assert isinstance(event, CandleUpdate)
    [c] = event.candles
    assert (c.coin, c.interval, c.open_time, c.close_time) == ("BTC", "1m", 1710146280000, 1710146339999)
    assert (c.open, c.high, c.low, c.close, c.volume, c.trades) == (
        "71400.0",
        "71422.0",
        "71389.0",
        "71411.0",
        "1.20407",
        20,
    )
    assert not c.closed
    assert c.origin == "live"


def test_fast_built_candle_equals_a_regular_one() -> None:
    """The hot path fills the Candle's slots directly; the result is an ordinary, equal, hashable Candle."""
    [c] = parse_frame(frame(CANDLE).encode()).candles  # type: ignore[union-attr]
    regular = Candle(
        "BTC", "1m", 1710146280000, 1710146339999, "71400.0", "71422.0", "71389.0", "71411.0", "1.20407", 20
    )
    assert c == regular
    assert hash(c) == hash(regular)
    assert repr(c) == repr(regular)
    assert c.as_closed().closed


def test_candle_list_is_accepted_and_bad_elements_reported() -> None:
    """Defensively a list is accepted; invalid elements are reported, valid ones kept."""
    bad = {**CANDLE, "n": "20"}
    event = parse_frame(frame([CANDLE, bad]))
    assert isinstance(event, CandleUpdate)
    assert len(event.candles) == 1
    assert len(event.errors) == 1
    assert "candle[1]" in event.errors[0]


def test_bytes_input_is_accepted() -> None:
    """Frames may arrive as bytes."""
    assert isinstance(parse_frame(frame(CANDLE).encode()), CandleUpdate)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"t": "1710146280000"}, "Expected `int`"),
        ({"t": 1710146280000.0}, "Expected `int`"),
        ({"n": True}, "Expected `int`, got `bool`"),
        ({"n": -1}, ">= 0"),
        ({"o": 71400.0}, "Expected `str`"),
        ({"o": "7e4"}, "decimal strings"),
        ({"v": "-1.0"}, "decimal strings"),
        ({"c": ""}, "decimal strings"),
        ({"i": "7m"}, "unknown interval"),
        ({"T": 1710146279999}, "T=1710146279999 is before t=1710146280000"),
        ({"s": ""}, "length"),
    ],
)
def test_candle_fields_are_validated_strictly(change: dict[str, object], reason: str) -> None:
    """Times and counts are integers, prices exact decimal strings, intervals known, T not before t."""
    event = parse_frame(frame({**CANDLE, **change}))
    assert isinstance(event, Malformed)
    assert reason in event.reason


def test_missing_field_is_malformed() -> None:
    """A candle without one of its fields is malformed."""
    data = dict(CANDLE)
    del data["v"]
    event = parse_frame(frame(data))
    assert isinstance(event, Malformed)
    assert "v" in event.reason


#: Hyperliquid's weekly BTC candle of Thu 30 Oct 2025 (the open time logged in rainbow-me/rainbow#6920).
REAL_WEEK_T = 1761782400000
REAL_WEEK = {**CANDLE, "i": "1w", "t": REAL_WEEK_T, "T": REAL_WEEK_T + 7 * 86_400_000 - 1}


def test_real_weekly_candle_opening_on_thursday_is_a_candle() -> None:
    """The exchange's 1w candles open on Thursday 00:00 UTC: one parses, over WS and REST."""
    event = parse_frame(frame(REAL_WEEK))
    assert isinstance(event, CandleUpdate)
    assert event.candles[0].open_time == 1761782400000
    page = parse_candle_list(json.dumps([REAL_WEEK]), now_ms=REAL_WEEK_T + 7 * 86_400_000)
    assert [(c.open_time, c.closed) for c in page] == [(1761782400000, True)]


def test_monthly_candles_parse() -> None:
    """1M candles open on the 1st and close at the month's last ms."""
    month = {**CANDLE, "i": "1M", "t": 1709251200000, "T": 1711929599999}  # March 2024
    assert isinstance(parse_frame(frame(month)), CandleUpdate)


@pytest.mark.parametrize(
    "change",
    [
        {"i": "1w", "t": 1710115200000, "T": 1710115200000 + 7 * 86_400_000 - 1},  # a Monday week
        {"i": "1M", "t": 1709251200000, "T": 1709251200000 + 30 * 86_400_000 - 1},  # a 30-day month
        {"t": 1710146280001, "T": 1710146340000},  # a minute one ms late
        {"T": 1710146340000},  # a minute one ms long
    ],
)
def test_off_grid_times_are_kept_as_the_exchange_sent_them(change: dict[str, int]) -> None:
    """The exchange's t/T are the truth: a candle off candlewick's grid is a candle, never malformed."""
    data = {**CANDLE, **change}
    event = parse_frame(frame(data))
    assert isinstance(event, CandleUpdate)
    assert (event.candles[0].open_time, event.candles[0].close_time) == (data["t"], data["T"])
    assert len(parse_candle_list(json.dumps([data]), now_ms=0)) == 1


def test_greeting_pong_ack_and_unknown_channel() -> None:
    """The plain-text greeting, pong, subscription acks and foreign channels are typed events."""
    assert parse_frame(GREETING) == Greeting(GREETING)
    assert parse_frame('{"channel":"pong"}') == Pong()
    ack = parse_frame(
        '{"channel":"subscriptionResponse","data":{"method":"subscribe",'
        '"subscription":{"type":"candle","coin":"BTC","interval":"1m","extra":null}}}'
    )
    assert isinstance(ack, SubscriptionAck)
    assert ack.market == ("BTC", "1m")  # matched on fields, not on bytes
    assert parse_frame('{"channel":"allMids","data":{"mids":{}}}') == UnknownChannel("allMids")


@pytest.mark.parametrize(
    ("text", "kind", "market"),
    [
        ('Already subscribed: {"type":"candle","interval":"30m","coin":"UNI"}', "already_subscribed", ("UNI", "30m")),
        (
            'Invalid subscription {"type":"candle","coin":"NOTACOIN","interval":"1m"}',
            "invalid_subscription",
            ("NOTACOIN", "1m"),
        ),
        ('Already unsubscribed: {"type":"candle","coin":"BTC","interval":"1m"}', "already_unsubscribed", ("BTC", "1m")),
        ("Cannot subscribe to more than 1000 channels.", "other", None),
        ("Error parsing JSON into valid websocket request: {nope", "other", None),
    ],
)
def test_error_frames_are_classified(text: str, kind: str, market: tuple[str, str] | None) -> None:
    """Error strings are classified by prefix and their embedded subscription parsed as an object."""
    event = parse_frame(frame(text, "error"))
    assert isinstance(event, ServerError)
    assert event.kind == kind
    assert event.market == market
    assert event.harmless == kind.startswith("already")


@pytest.mark.parametrize(
    "text",
    [
        "Ping",
        "",
        "[]",
        "{",
        '{"data":1}',
        '{"channel":5}',
        '{"channel":"candle"}',
        '{"channel":"candle","data":null}',
        '{"channel":"candle","data":[]}',
        '{"channel":"error","data":{"a":1}}',
        '{"channel":"subscriptionResponse","data":"x"}',
        "\x00\xff",
    ],
)
def test_garbage_is_malformed_with_a_reason(text: str) -> None:
    """Anything unexpected becomes a Malformed event with a reason and an excerpt."""
    event = parse_frame(text)
    assert isinstance(event, Malformed)
    assert event.reason


def test_recorded_snapshot_parses_exactly() -> None:
    """The recorded mainnet candleSnapshot parses with strings kept and T = t + 3599999."""
    rec = recorded("candle_snapshot.json")
    candles = parse_candle_list(json.dumps(rec["response"]), now_ms=2**50)
    assert len(candles) == 24
    assert candles[0].open_time == 1684699200000 < rec["request"]["req"]["startTime"]
    assert candles[-1].open_time == 1684782000000
    assert candles[0].volume == "520665683.0"
    assert all(c.closed and c.origin == "rest" and c.close_time - c.open_time == 3_599_999 for c in candles)
    for c, raw in zip(candles, rec["response"], strict=True):
        assert (c.open, c.high, c.low, c.close, c.volume, c.trades) == (
            raw["o"],
            raw["h"],
            raw["l"],
            raw["c"],
            raw["v"],
            raw["n"],
        )


def test_recorded_rows_parse_as_websocket_frames() -> None:
    """A REST row (alphabetical keys) is also a valid websocket candle: key order carries no meaning."""
    rec = recorded("candle_snapshot.json")
    event = parse_frame(frame(rec["response"][0]))
    assert isinstance(event, CandleUpdate)
    assert event.candles[0].coin == "kPEPE"


def test_snapshot_list_rejects_wrong_shapes() -> None:
    """A REST body that is not a candle array is an error naming the element; null is empty."""
    assert parse_candle_list("null", now_ms=0) == []
    with pytest.raises(ValueError, match="not a candle array"):
        parse_candle_list('{"a":1}', now_ms=0)
    with pytest.raises(ValueError, match="element 1"):
        parse_candle_list(json.dumps([CANDLE, {**CANDLE, "i": "6h"}]), now_ms=0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_parser_never_raises_on_arbitrary_input(data: str | bytes) -> None:
    """Fuzz: arbitrary text or bytes always yield an event."""
    assert parse_frame(data) is not None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["candle", "pong", "error", "subscriptionResponse", "post", ""]),
    json_values,
)
def test_parser_never_raises_on_arbitrary_json(channel: str, data: object) -> None:
    """Fuzz: any JSON payload on any channel yields an event."""
    assert parse_frame(json.dumps({"channel": channel, "data": data})) is not None


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "t": st.integers(-(2**64), 2**64) | json_values,
            "T": st.integers(-(2**64), 2**64) | json_values,
            "s": st.text(max_size=10) | json_values,
            "i": st.sampled_from(INTERVALS) | st.text(max_size=3),
            "o": st.decimals(allow_nan=False, allow_infinity=False).map(str) | json_values,
            "c": st.text(max_size=10),
            "h": st.text(max_size=10),
            "l": st.text(max_size=10),
            "v": st.text(max_size=10),
            "n": st.integers(-10, 2**70) | json_values,
        },
    )
)
def test_parser_never_raises_on_candle_like_objects(data: dict[str, object]) -> None:
    """Fuzz: near-candles are either valid candles or Malformed, never an exception."""
    event = parse_frame(json.dumps({"channel": "candle", "data": data}))
    assert isinstance(event, CandleUpdate | Malformed)
