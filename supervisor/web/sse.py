"""``GET /api/v1/stream?coin&interval``: a market's candles as server-sent events.

Each event is ``event: candle``, ``id: <open time ms>`` and ``data:`` the candle as a JSON object
(the columns of ``/api/v1/candles``). A client that reconnects sends ``Last-Event-ID`` (browsers
do it by themselves; ``?last_event_id=`` works too): the stored candles from that open time on
are replayed first (the newest :data:`REPLAY_MAX` at most, after an ``event: gap`` with
``{"from", "to"}`` when more were stored since), then live updates follow. A new client gets the
newest stored candle, then live updates. Live updates come from the daemon's live feed (every
candle the sources send, see :class:`~candlewick.plugin.CandleOutlet`); candles older than the last one sent (a backfill
filling history) are left out. The feed is joined before the replay is read, so nothing falls
between the two. At most ``[web] max_streams`` streams are open at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from candlewick.errors import SinkUnavailable
from candlewick.model import Candle
from candlewick.reading import CandleReader, CandleRow, candle_row
from candlewick.web import store
from candlewick.web.params import COLUMNS, MarketQuery, market_query, parse_time
from candlewick.web.routes import ClosingStream, error_response, guarded
from candlewick.web.store import END_OF_TIME

if TYPE_CHECKING:
    from candlewick.control.methods import ServiceHost

log = logging.getLogger("candlewick.web")

__all__ = ["LiveStream", "candle_event", "row_event"]

#: Seconds between comment lines that keep an idle stream (and the proxies on its way) open.
KEEPALIVE: Final = 15.0
#: Milliseconds a browser waits before it reconnects.
RETRY_MS: Final = 2000
#: Candle updates queued for one slow client before it loses some (the next update supersedes).
QUEUE: Final = 256
#: Most stored candles replayed to a reconnecting client; past it, a ``gap`` event says where the
#: replay resumed (fetch the rest from /api/v1/candles).
REPLAY_MAX: Final = 5000


def row_event(row: CandleRow) -> bytes:
    """One SSE event: ``id`` the open time, ``data`` the candle as one JSON line (an object of the columns)."""
    data = _encode(dict(zip(COLUMNS, row, strict=False)))  # the export columns: derived left out
    return b"event: candle\nid: %d\ndata: %s\n\n" % (row[0], data)


def candle_event(candle: Candle) -> bytes:
    """:func:`row_event` of a candle (a live update)."""
    return row_event(candle_row(candle))


_encode = msgspec.json.Encoder().encode


class _Counted(ClosingStream):
    """A streaming response that holds one of the stream slots while it runs."""

    def __init__(self, owner: LiveStream, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._owner.open -= 1


class LiveStream:
    """The stream endpoint of one daemon."""

    def __init__(self, host: ServiceHost, *, max_streams: int) -> None:
        self.host = host
        self.max_streams = max_streams
        self.open = 0
        self.endpoint = guarded(self._endpoint)

    async def _endpoint(self, request: Request) -> Response:
        market = market_query(request.query_params)
        raw_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        last_id = parse_time("Last-Event-ID", raw_id) if raw_id else None
        reader = store.reader(self.host)
        if self.open >= self.max_streams:
            return error_response(503, f"too many live streams ({self.max_streams}); try again later")
        if request.method == "HEAD":
            return Response(media_type="text/event-stream")
        self.open += 1
        return _Counted(
            self,
            self._events(reader, market, last_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _events(self, reader: CandleReader, market: MarketQuery, last_id: int | None) -> AsyncIterator[bytes]:
        wanted = (market.coin, market.interval)
        with self.host.live.subscribe(QUEUE, accept=lambda candle: candle.market == wanted) as feed:
            yield f"retry: {RETRY_MS}\n\n".encode()
            replay, skipped_to = await self._replay(reader, market, last_id)
            if skipped_to is not None:
                gap = json.dumps({"from": last_id, "to": skipped_to})
                yield f"event: gap\ndata: {gap}\n\n".encode()
            sent = -1
            for row in replay:
                yield row_event(row)
                sent = row[0]
            while True:
                candle_or_none = None
                with anyio.move_on_after(KEEPALIVE):
                    candle_or_none = await self._next(feed.receive, sent)
                if candle_or_none is None:
                    yield b": keep-alive\n\n"
                    continue
                yield candle_event(candle_or_none)
                sent = candle_or_none.open_time

    async def _replay(
        self, reader: CandleReader, market: MarketQuery, last_id: int | None
    ) -> tuple[Sequence[CandleRow], int | None]:
        """What a client gets before live updates: the newest stored candle, or the stored candles
        from ``last_id`` on; at most :data:`REPLAY_MAX` (the newest), with the open time the replay
        skipped to when there were more (else None)."""
        coin, interval = market.coin, market.interval
        try:
            if last_id is None:
                return [candle_row(c) for c in await reader.newest(coin, interval, 1)], None
            page = await reader.rows(coin, interval, max(0, last_id), END_OF_TIME, REPLAY_MAX)
            if page.next is None:
                return page.rows, None
            newest = [candle_row(c) for c in await reader.newest(coin, interval, REPLAY_MAX)]
            return newest, newest[0][0] if newest else None
        except (SinkUnavailable, OSError) as exc:  # the store is down: live updates still flow
            log.warning("web: stream replay of %s %s failed: %s", coin, interval, exc)
            return (), None

    @staticmethod
    async def _next(feed: MemoryObjectReceiveStream[Candle], sent: int) -> Candle:
        """The next update of the market that is not older than the last candle sent."""
        while True:
            candle = await feed.receive()
            if candle.open_time >= sent:
                return candle
