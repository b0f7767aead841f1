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
volume exact non-negative decimal strings, ``i`` a known interval, ``T`` not before ``t``.
Where ``t``/``T`` sit on the interval's grid is *not* checked here: the exchange's times are
the truth, so an off-grid candle is still a candle; :mod:`candlewick.gridwatch` reports it.
Decoding uses msgspec (see ``benchmarks/parse_frames.py``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Final, Literal

import msgspec

from candlewick.model import INTERVAL_MS, Candle

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


class Greeting(msgspec.Struct, frozen=True):
    """The plain-text hello the server may send right after the handshake."""

    text: str


class SubscriptionAck(msgspec.Struct, frozen=True):
    """``subscriptionResponse``: the server confirms a subscribe or unsubscribe."""

    method: str
    subscription: dict[str, Any]

    @property
    def market(self) -> Market | None:
        """(coin, interval) when this acks a candle feed."""
        return _candle_market(self.subscription)


class CandleUpdate(msgspec.Struct, frozen=True):
    """One ``candle`` frame: the current state of one (rarely several) candles."""

    candles: tuple[Candle, ...]
    #: Reasons for list elements that failed validation (the valid ones are kept).
    errors: tuple[str, ...] = ()


class Pong(msgspec.Struct, frozen=True):
    """The answer to :data:`PING_FRAME`."""


ErrorKind = Literal["already_subscribed", "already_unsubscribed", "invalid_subscription", "other"]


class ServerError(msgspec.Struct, frozen=True):
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


class UnknownChannel(msgspec.Struct, frozen=True):
    """A well-formed frame on a channel this client does not use."""

    channel: str


class Malformed(msgspec.Struct, frozen=True):
    """A frame that failed to parse or validate; ``reason`` says why."""

    reason: str
    raw: str


ServerEvent = Greeting | SubscriptionAck | CandleUpdate | Pong | ServerError | UnknownChannel | Malformed

# -- wire schema -----------------------------------------------------------------------------

_Decimal = Annotated[str, msgspec.Meta(max_length=64)]
_Ms = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
#: The five price/volume strings joined by commas: each an exact non-negative decimal.
_DECIMALS = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?,){4}[0-9]+(?:\.[0-9]+)?")
_FAST_PREFIX_STR = '{"channel":"candle","data":{'
_FAST_PREFIX = _FAST_PREFIX_STR.encode()


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


class _CandleFrame(msgspec.Struct):
    channel: str
    data: WireCandle


_envelope = msgspec.json.Decoder(_Envelope)
_candle_frame = msgspec.json.Decoder(_CandleFrame)
_candle_data = msgspec.json.Decoder(WireCandle | list[msgspec.Raw])
_one_candle = msgspec.json.Decoder(WireCandle)
_any = msgspec.json.Decoder()
_candle_list = msgspec.json.Decoder(list[WireCandle] | None)

# Building a frozen dataclass through __init__ costs a guarded setattr per field; on the hot
# path the slots are filled directly (tests check the result equals Candle(...)).
_FIELDS = tuple(Candle.__dataclass_fields__)
if Candle.__slots__ != _FIELDS:  # pragma: no cover - guards a change of the core model
    raise ImportError("candlewick.model.Candle's fields changed: update protocol._new_candle")
_new = object.__new__
(_s_coin, _s_iv, _s_t, _s_T, _s_o, _s_h, _s_l, _s_c, _s_v, _s_n, _s_closed, _s_origin, _s_derived) = (
    getattr(Candle, name).__set__ for name in _FIELDS
)


def _new_candle(w: WireCandle, closed: bool, origin: str) -> Candle:
    obj = _new(Candle)
    _s_coin(obj, w.s)
    _s_iv(obj, w.i)
    _s_t(obj, w.t)
    _s_T(obj, w.T)
    _s_o(obj, w.o)
    _s_h(obj, w.h)
    _s_l(obj, w.l)
    _s_c(obj, w.c)
    _s_v(obj, w.v)
    _s_n(obj, w.n)
    _s_closed(obj, closed)
    _s_origin(obj, origin)
    _s_derived(obj, False)
    return obj


def candle_from_wire(w: WireCandle, *, closed: bool = False, origin: Literal["live", "rest"] = "live") -> Candle:
    """Check a decoded wire candle's semantics and build the :class:`Candle`; ValueError if wrong.

    An off-grid ``t``/``T`` is not wrong: the exchange's times are kept as sent.
    """
    if _DECIMALS.fullmatch(f"{w.o},{w.c},{w.h},{w.l},{w.v}") is None:
        raise ValueError(f"prices and volume must be decimal strings, got {[w.o, w.c, w.h, w.l, w.v]}")
    if w.i not in INTERVAL_MS:
        raise ValueError(f"unknown interval {w.i!r}")
    if w.t > w.T:
        raise ValueError(f"T={w.T} is before t={w.t}")
    return _new_candle(w, closed, origin)


def parse_candle_list(body: bytes | str, *, now_ms: int) -> list[Candle]:
    """Decode a ``candleSnapshot`` body (array or ``null``); candles whose ``T`` passed are closed.

    ``now_ms`` is the exchange's time (as far as it surely passed) when the data was computed. A
    candle older than another in the same body is closed whatever the clocks say: the exchange
    opened a newer one. Raises ``ValueError`` naming the first bad element: a REST page is all or nothing.
    """
    try:
        wires = _candle_list.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a candle array: {exc}") from None
    out = []
    newest = max((w.t for w in wires), default=0) if wires else 0
    for k, w in enumerate(wires or ()):
        try:
            out.append(candle_from_wire(w, closed=now_ms > w.T or w.t < newest, origin="rest"))
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
    # Fast path for the frame that matters: one candle object, decoded in one pass.
    if data.startswith(_FAST_PREFIX) if isinstance(data, bytes) else data.startswith(_FAST_PREFIX_STR):
        try:
            frame = _candle_frame.decode(data)
        except msgspec.DecodeError:
            pass  # the general path below names the problem
        else:
            if frame.channel == "candle":
                try:
                    return CandleUpdate((candle_from_wire(frame.data),))
                except ValueError as exc:
                    return Malformed(f"candle: {exc}", _excerpt(data))
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
