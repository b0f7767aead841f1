"""Hyperliquid websocket protocol core: frames out, typed events in, no I/O.

Client frames are built by :func:`subscribe_frame`, :func:`unsubscribe_frame` and
:data:`PING_FRAME`. Every server text frame goes through :func:`parse_frame`, which returns
exactly one event and never raises:

- :class:`Greeting` (the plain-text ``Websocket connection established.``),
- :class:`SubscriptionAck` (``subscriptionResponse``; matched on type/coin/interval, not bytes),
- :class:`CandleUpdate` (``candle``; ``data`` as one object or, defensively, a list),
- :class:`Pong`,
- :class:`ServerError` (``error``; ``Already subscribed`` and friends classified),
- :class:`UnknownChannel` (a valid frame of a channel we do not use),
- :class:`Malformed` (anything else, with the reason; callers count it and go on).

Candles are validated strictly: ``t``/``T``/``n`` integers (never bools or floats), prices and
volume exact non-negative decimal strings, ``i`` a known interval, ``t`` aligned to it and
``T`` its inclusive close. Decoding uses msgspec (see ``benchmarks/parse_frames.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import msgspec

from candlewick.model import INTERVAL_MS, Candle, close_time, open_time

__all__ = [
    "GREETING",
    "PING_FRAME",
    "CandleUpdate",
    "Greeting",
    "Malformed",
    "Pong",
    "ServerError",
    "ServerEvent",
    "SubscriptionAck",
    "UnknownChannel",
    "candle_from_wire",
    "parse_frame",
    "subscribe_frame",
    "subscription",
    "unsubscribe_frame",
]

GREETING: Final = "Websocket connection established."
PING_FRAME: Final = '{"method":"ping"}'
#: How much of a bad frame a :class:`Malformed` event keeps for the log.
RAW_EXCERPT = 200

# -- client frames ---------------------------------------------------------------------------


def subscription(coin: str, interval: str) -> dict[str, str]:
    """The subscription object of one candle feed."""
    return {"type": "candle", "coin": coin, "interval": interval}


def subscribe_frame(coin: str, interval: str) -> str:
    """``{"method":"subscribe","subscription":{...}}`` for one candle feed."""
    return json.dumps({"method": "subscribe", "subscription": subscription(coin, interval)}, separators=(",", ":"))


def unsubscribe_frame(coin: str, interval: str) -> str:
    """``{"method":"unsubscribe","subscription":{...}}`` for one candle feed."""
    return json.dumps({"method": "unsubscribe", "subscription": subscription(coin, interval)}, separators=(",", ":"))


# -- server events ---------------------------------------------------------------------------

Market = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Greeting:
    """The plain-text hello the server may send right after the handshake."""

    text: str


@dataclass(frozen=True, slots=True)
class SubscriptionAck:
    """``subscriptionResponse``: the server confirms a subscribe or unsubscribe."""

    method: str
    subscription: dict[str, Any]

    @property
    def market(self) -> Market | None:
        """(coin, interval) when this acks a candle feed."""
        return _candle_market(self.subscription)


@dataclass(frozen=True, slots=True)
class CandleUpdate:
    """One ``candle`` frame: the current state of one (rarely several) candles."""

    candles: tuple[Candle, ...]
    #: Reasons for list elements that failed validation (the valid ones are kept).
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to :data:`PING_FRAME`."""


ErrorKind = Literal["already_subscribed", "already_unsubscribed", "invalid_subscription", "other"]


@dataclass(frozen=True, slots=True)
class ServerError:
    """An ``error`` frame; ``subscription`` is the JSON object embedded in the text, if any."""

    message: str
    kind: ErrorKind
    subscription: dict[str, Any] | None = None

    @property
    def market(self) -> Market | None:
        return _candle_market(self.subscription) if self.subscription is not None else None

    @property
    def harmless(self) -> bool:
        """``Already subscribed``/``Already unsubscribed``: the state is already what we want."""
        return self.kind in ("already_subscribed", "already_unsubscribed")


@dataclass(frozen=True, slots=True)
class UnknownChannel:
    """A well-formed frame on a channel this client does not use."""

    channel: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A frame that failed to parse or validate; ``reason`` says why."""

    reason: str
    raw: str


ServerEvent = Greeting | SubscriptionAck | CandleUpdate | Pong | ServerError | UnknownChannel | Malformed

# -- wire schema -----------------------------------------------------------------------------

_Decimal = Annotated[str, msgspec.Meta(pattern=r"^[0-9]+(\.[0-9]+)?$", max_length=64)]
_Ms = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class WireCandle(msgspec.Struct, frozen=True):
    """A candle as Hyperliquid sends it (WS ``data`` and each ``candleSnapshot`` element)."""

    t: _Ms
    T: _Ms
    s: _Name
    i: str
    o: _Decimal
    c: _Decimal
    h: _Decimal
    l: _Decimal  # noqa: E741 - the exchange's field name
    v: _Decimal
    n: _Count


class _Envelope(msgspec.Struct):
    channel: str
    data: msgspec.Raw = msgspec.Raw(b"")


_envelope = msgspec.json.Decoder(_Envelope)
_candle_data = msgspec.json.Decoder(WireCandle | list[msgspec.Raw])
_one_candle = msgspec.json.Decoder(WireCandle)
_any = msgspec.json.Decoder()
_candle_list = msgspec.json.Decoder(list[WireCandle] | None)


def candle_from_wire(w: WireCandle, *, closed: bool = False, origin: Literal["live", "rest"] = "live") -> Candle:
    """Check a decoded wire candle's semantics and build the :class:`Candle`; ValueError if wrong."""
    step = INTERVAL_MS.get(w.i)
    if step is None:
        raise ValueError(f"unknown interval {w.i!r}")
    if w.i in ("1M", "1w"):
        if open_time(w.i, w.t) != w.t:
            raise ValueError(f"t={w.t} is not the start of a {w.i} candle")
        if close_time(w.i, w.t) != w.T:
            raise ValueError(f"T={w.T} is not the close of the {w.i} candle opening at {w.t}")
    else:
        if w.t % step:
            raise ValueError(f"t={w.t} is not aligned to {w.i}")
        if w.T - w.t != step - 1:
            raise ValueError(f"T-t={w.T - w.t}, expected {step - 1} for {w.i}")
    return Candle(w.s, w.i, w.t, w.T, w.o, w.h, w.l, w.c, w.v, w.n, closed, origin)


def parse_candle_list(body: bytes | str, *, now_ms: int) -> list[Candle]:
    """Decode a ``candleSnapshot`` body (array or ``null``); candles whose ``T`` passed are closed.

    Raises ``ValueError`` naming the first bad element: a REST page is all or nothing.
    """
    try:
        wires = _candle_list.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a candle array: {exc}") from None
    out = []
    for k, w in enumerate(wires or ()):
        try:
            out.append(candle_from_wire(w, closed=now_ms > w.T, origin="rest"))
        except ValueError as exc:
            raise ValueError(f"element {k}: {exc}") from None
    return out


def _excerpt(data: bytes | str) -> str:
    text = data if isinstance(data, str) else data[: RAW_EXCERPT * 4].decode("utf-8", "replace")
    return text[:RAW_EXCERPT]


def _candle_market(sub: dict[str, Any] | None) -> Market | None:
    if not sub or sub.get("type") != "candle":
        return None
    coin, interval = sub.get("coin"), sub.get("interval")
    if isinstance(coin, str) and isinstance(interval, str):
        return (coin, interval)
    return None


_ERROR_PREFIXES: tuple[tuple[str, ErrorKind], ...] = (
    ("already subscribed", "already_subscribed"),
    ("already unsubscribed", "already_unsubscribed"),
    ("invalid subscription", "invalid_subscription"),
)


def _classify_error(message: str) -> ServerError:
    lowered = message.lower()
    kind: ErrorKind = "other"
    for prefix, k in _ERROR_PREFIXES:
        if lowered.startswith(prefix):
            kind = k
            break
    sub: dict[str, Any] | None = None
    start, end = message.find("{"), message.rfind("}")
    if 0 <= start < end:
        try:
            parsed = json.loads(message[start : end + 1])
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            sub = parsed
    return ServerError(message, kind, sub)


def _parse_candles(raw: msgspec.Raw, data: bytes | str) -> ServerEvent:
    try:
        decoded = _candle_data.decode(raw)
    except msgspec.DecodeError as exc:
        return Malformed(f"candle: {exc}", _excerpt(data))
    if isinstance(decoded, WireCandle):
        try:
            return CandleUpdate((candle_from_wire(decoded),))
        except ValueError as exc:
            return Malformed(f"candle: {exc}", _excerpt(data))
    candles: list[Candle] = []
    errors: list[str] = []
    for k, item in enumerate(decoded):
        try:
            candles.append(candle_from_wire(_one_candle.decode(item)))
        except (msgspec.DecodeError, ValueError) as exc:
            errors.append(f"candle[{k}]: {exc}")
    if not candles:
        return Malformed("; ".join(errors) or "candle: empty list", _excerpt(data))
    return CandleUpdate(tuple(candles), tuple(errors))


def parse_frame(data: bytes | str) -> ServerEvent:
    """Turn one server text frame into one event. Never raises."""
    try:
        return _parse(data)
    except Exception as exc:  # the contract: a frame never breaks the connection loop
        return Malformed(f"unexpected {type(exc).__name__}: {exc}", _excerpt(data))


def _parse(data: bytes | str) -> ServerEvent:
    head = data[:1]
    if head not in ("{", b"{"):
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        if text.strip() == GREETING:
            return Greeting(text)
        return Malformed("not a JSON object", _excerpt(data))
    try:
        env = _envelope.decode(data)
    except msgspec.DecodeError as exc:
        return Malformed(f"envelope: {exc}", _excerpt(data))
    channel = env.channel
    raw = env.data
    if channel == "candle":
        if not len(raw):
            return Malformed("candle frame without data", _excerpt(data))
        return _parse_candles(raw, data)
    if channel == "pong":
        return Pong()
    payload: Any = _any.decode(raw) if len(raw) else None
    if channel == "subscriptionResponse":
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("method"), str)
            and isinstance(payload.get("subscription"), dict)
        ):
            return SubscriptionAck(payload["method"], payload["subscription"])
        return Malformed("subscriptionResponse without method/subscription", _excerpt(data))
    if channel == "error":
        if isinstance(payload, str):
            return _classify_error(payload)
        return Malformed("error frame whose data is not a string", _excerpt(data))
    return UnknownChannel(channel)
