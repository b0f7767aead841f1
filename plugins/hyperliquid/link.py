"""One websocket connection of the ``hyperliquid`` source, reconnecting forever.

A :class:`Link` owns its connection and its :class:`~candlewick.plugins.hyperliquid.subscriptions.Subscriptions`:
it feeds the state machine what happens on the wire and sends the frames it answers with,
within the per-IP message bucket. Its source (a :class:`LinkHost`) hands it markets, and gets
back candle frames, catch-up requests and the connection events.
"""

from __future__ import annotations

import logging
import math
import ssl
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup

from candlewick.plugin import ComponentContext
from candlewick.plugins.hyperliquid.budget import WeightBudget
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.protocol import (
    PING_FRAME,
    CandleUpdate,
    Greeting,
    Malformed,
    Pong,
    ServerError,
    ServerEvent,
    SubscriptionAck,
    UnknownChannel,
    parse_frame,
)
from candlewick.plugins.hyperliquid.rest import RestError
from candlewick.plugins.hyperliquid.subscriptions import ErrorVerdict, Market, Step, Subscriptions, SubState
from candlewick.plugins.hyperliquid.wsconn import RECEIVE_SIZE, ConnectionLost, Unreachable, WebSocket, connect
from candlewick.runtime import names
from candlewick.runtime.backoff import Backoff
from candlewick.runtime.telemetry import Child

__all__ = ["Link", "LinkHost"]

#: The source's logger: operators tune one logger for the whole feed.
log = logging.getLogger("candlewick.plugins.hyperliquid.source")


class LinkHost(Protocol):
    """What a :class:`Link` needs from its source."""

    @property
    def name(self) -> str: ...
    @property
    def config(self) -> HyperliquidConfig: ...
    @property
    def ctx(self) -> ComponentContext[HyperliquidConfig]: ...
    @property
    def messages(self) -> WeightBudget:
        """Outbound websocket messages, shared by every connection (the per-IP limit)."""
        ...

    @property
    def connects(self) -> WeightBudget:
        """New websocket connections, shared by every connection (the per-IP limit)."""
        ...

    @property
    def tls(self) -> ssl.SSLContext | None: ...
    @property
    def reconnects(self) -> Child: ...
    @property
    def frames(self) -> Child: ...

    def now_ms(self) -> int: ...

    async def on_candles(self, link: Link, updates: list[tuple[CandleUpdate, bytes]]) -> None:
        """Candle frames of ``link`` (each with its raw message, for reports), in the order received."""
        ...

    def count_malformed(self, reason: str, raw: str) -> None: ...

    async def catch_up(self, market: Market, *, since: int | None) -> None: ...


class Link:
    """One websocket connection carrying a set of subscriptions, reconnecting forever."""

    def __init__(self, source: LinkHost, index: int, markets: list[Market]) -> None:
        self.source = source
        self.index = index
        self.subs = Subscriptions(markets, capacity=source.config.max_subscriptions_per_connection)
        self.ws: WebSocket | None = None
        self.connected = False
        self.connected_at: float | None = None
        self.disconnected_since_ms: int | None = None
        self.sessions = 0
        self.last_error: str | None = None
        self._waiting_since: float | None = None
        self._pending_ping: float | None = None
        self._last_frame_ms: int | None = None
        self._tg: TaskGroup | None = None
        self._lost_reason: str | None = None
        self._told_first_failure = False
        cfg = source.config
        self._backoff = Backoff(initial=cfg.reconnect_initial, maximum=cfg.reconnect_max)

    @property
    def room(self) -> int:
        return self.subs.room

    def status(self) -> dict[str, Any]:
        subs = self.subs
        return {
            "connected": self.connected,
            "subscribed": subs.count(SubState.SUBSCRIBED),
            "pending": subs.count(SubState.PENDING),
            "rejected": [f"{c}/{i}" for c, i in subs.in_state(SubState.REJECTED)],
            "sessions": self.sessions,
            "last_error": self.last_error,
        }

    # -- runtime market changes --------------------------------------------------------------

    async def add(self, market: Market) -> None:
        step = self.subs.add(market)
        ws, tg = self.ws, self._tg
        if ws is None or tg is None or not step.frames:
            return
        if await self._send_step(ws, step, "subscribe"):
            tg.start_soon(self._catch_up, [market], None)

    async def remove(self, market: Market) -> None:
        step = self.subs.remove(market)
        ws = self.ws
        if ws is not None and step.frames:
            await self._send_step(ws, step, "unsubscribe")

    async def _send(self, ws: WebSocket, text: str) -> None:
        """Send one message within the per-IP outbound message limit."""
        await self.source.messages.acquire(1)
        await ws.send_text(text)

    async def _send_step(self, ws: WebSocket, step: Step, what: str) -> bool:
        """Send the frames of one step; a failure ends the session (False)."""
        try:
            for frame in step.frames:
                await self._send(ws, frame)
        except ConnectionLost as exc:
            self._lose(f"{what} failed: {exc}")
            return False
        return True

    # -- the reconnect loop ------------------------------------------------------------------

    async def run(self) -> None:
        src = self.source
        clock = src.ctx.clock
        while True:
            self._lost_reason = None
            unreachable = False
            try:
                await self._session()
                reason = self._lost_reason or "session ended"
            except Unreachable as exc:
                reason, unreachable = str(exc), True
            except (ConnectionLost, OSError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ConnectionLost) else str(exc)
            except Exception as exc:  # a bug must not end the feed for good: log it and reconnect
                reason = f"{type(exc).__name__}: {exc}"
                log.exception("%s connection %d failed unexpectedly", src.name, self.index)
            self._ended(reason)
            # No answer at all is nothing the exchange counts: retry soon, to be back promptly.
            delay = self._backoff.next(cap=src.config.reconnect_unreachable_max if unreachable else None)
            log.warning("%s connection %d lost (%s); reconnecting in %.1fs", src.name, self.index, reason, delay)
            src.reconnects.inc()
            await clock.sleep(delay)

    def _ended(self, reason: str) -> None:
        """Account a lost session (or a failed first attempt) and publish ``EV_DISCONNECTED``."""
        src = self.source
        self.last_error = reason
        if self.connected_at is not None:
            if src.ctx.clock.monotonic() - self.connected_at >= src.config.healthy_after:
                self._backoff.reset()
            if self.disconnected_since_ms is None:
                # The feed went quiet at the last frame (a stall is noticed only later).
                self.disconnected_since_ms = self._last_frame_ms or src.now_ms()
            src.ctx.telemetry.publish(
                names.EV_DISCONNECTED, src.name, f"{src.name} disconnected: {reason}",
                reason=reason, exchange_time=src.now_ms(),
            )  # fmt: skip
        elif self.sessions == 0 and not self._told_first_failure:
            self._told_first_failure = True
            src.ctx.telemetry.publish(
                names.EV_DISCONNECTED, src.name, f"{src.name} cannot connect: {reason}",
                reason=reason, exchange_time=src.now_ms(),
            )  # fmt: skip
        self.connected = False
        self.connected_at = None

    def _lose(self, reason: str) -> None:
        """End the current session (any task of it may call this)."""
        if self._lost_reason is None:
            self._lost_reason = reason
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    async def _session(self) -> None:
        src = self.source
        cfg = src.config
        await src.connects.acquire(1)
        try:
            ws = await connect(cfg.ws_url, open_timeout=cfg.open_timeout, ssl_context=src.tls)
        except Unreachable:
            src.connects.settle(1, 0)  # no connection reached the exchange: it counts nothing
            raise
        try:
            self.ws = ws
            self._pending_ping = None
            self._last_frame_ms = None
            self.sessions += 1
            self.connected = True
            self.connected_at = src.ctx.clock.monotonic()
            since = self.disconnected_since_ms
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._reader, ws)
                markets = self.subs.markets
                if not await self._send_step(ws, self.subs.connected(), "subscribe"):
                    return
                src.ctx.telemetry.publish(
                    names.EV_CONNECTED, src.name,
                    f"{src.name} connected, {len(markets)} markets"
                    + ("" if since is None else " (catching up since the disconnect)"),
                    markets=[[c, i] for c, i in markets], disconnected_since=since,
                )  # fmt: skip
                self.disconnected_since_ms = None
                tg.start_soon(self._keepalive, ws)
                tg.start_soon(self._catch_up, markets, since)
        finally:
            self._tg = None
            self.ws = None
            self.connected = False
            self.subs.disconnected()
            await ws.aclose()

    # -- session tasks -----------------------------------------------------------------------

    async def _reader(self, ws: WebSocket) -> None:
        """Read frames until the connection ends, at most one read per ``read_interval``.

        Frames come in bursts; letting a burst gather in the socket and handling it in one go
        costs a fraction of the CPU per frame, for at most ``read_interval`` of added latency.
        A read that filled the receive size is followed at once: more is waiting.
        """
        src = self.source
        clock = src.ctx.clock
        interval = src.config.read_interval
        try:
            while True:
                self._waiting_since = clock.monotonic()
                messages = await ws.recv_many()
                self._waiting_since = None
                self._pending_ping = None
                self._last_frame_ms = src.now_ms()
                await self.on_frames(messages)
                if interval and ws.last_read < RECEIVE_SIZE:
                    self._waiting_since = clock.monotonic()
                    await clock.sleep(interval)
        except ConnectionLost as exc:
            self._lose(str(exc))
        finally:
            self._waiting_since = None

    async def on_frames(self, messages: list[bytes]) -> None:
        """Handle one read's frames in order: runs of candles to the source, the rest to the subscriptions."""
        src = self.source
        src.frames.inc(len(messages))
        candles: list[tuple[CandleUpdate, bytes]] = []
        for raw in messages:
            event = parse_frame(raw)
            if type(event) is CandleUpdate:
                candles.append((event, raw))
                continue
            if candles:  # what came before this event is handled before it
                await src.on_candles(self, candles)
                candles = []
            self._on_event(event)
        if candles:
            await src.on_candles(self, candles)

    def _on_event(self, event: ServerEvent) -> None:
        src = self.source
        if isinstance(event, SubscriptionAck):
            self.subs.acked(event.market, event.method)
        elif isinstance(event, ServerError):
            self._on_error(event)
        elif isinstance(event, Malformed):
            src.count_malformed(event.reason, event.raw)
        elif isinstance(event, Pong | Greeting | UnknownChannel) and log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %r", src.name, event)

    def _on_error(self, event: ServerError) -> None:
        src = self.source
        verdict, _ = self.subs.error(event)
        if verdict is ErrorVerdict.REJECTED:
            assert event.market is not None
            coin, interval = event.market
            log.error("%s: the exchange refused %s/%s: %s", src.name, coin, interval, event.message)
            src.ctx.telemetry.publish(
                "subscription.rejected", src.name, f"{src.name}: {coin}/{interval} refused: {event.message}",
                coin=coin, interval=interval, error=event.message,
            )  # fmt: skip
        elif verdict is ErrorVerdict.UNRELATED:
            log.warning("%s: server error: %s", src.name, event.message)
        else:
            log.debug("%s: %s (harmless)", src.name, event.message)

    async def _keepalive(self, ws: WebSocket) -> None:
        """Ping every ``ping_interval``; end the session when a ping finds no answer in time.

        A ping is answered by any inbound frame. Time the reader spends handing candles
        downstream (backpressure) does not count: only time spent waiting on the socket.
        """
        cfg = self.source.config
        clock = self.source.ctx.clock
        next_ping = clock.monotonic() + cfg.ping_interval
        try:
            while True:
                now = clock.monotonic()
                pending, waiting = self._pending_ping, self._waiting_since
                deadline = math.inf
                if pending is not None and waiting is not None:
                    deadline = max(pending, waiting) + cfg.pong_timeout
                    if now >= deadline:
                        self._lose(f"stalled: no pong or frame within {cfg.pong_timeout:g}s of a ping")
                        return
                if now >= next_ping:
                    await self._send(ws, PING_FRAME)
                    if self._pending_ping is None:
                        self._pending_ping = now
                    next_ping = now + cfg.ping_interval
                    continue
                await clock.sleep(min(next_ping, deadline) - now)
        except ConnectionLost as exc:
            self._lose(str(exc))

    async def _catch_up(self, markets: list[Market], since: int | None) -> None:
        """REST history for what the websocket cannot replay (runs after subscribing)."""
        src = self.source
        for market in markets:
            if market not in self.subs:
                continue
            try:
                await src.catch_up(market, since=since)
            except RestError as exc:
                log.warning("%s: REST catch-up of %s/%s failed: %s", src.name, *market, exc)
