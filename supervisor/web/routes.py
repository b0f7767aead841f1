"""The API's plain routes: markets, candles, export, coverage, health and metrics.

Every read goes through the sink's read side (:mod:`candlewick.reading`), and every CSV or
NDJSON byte through its encoders: there is one read path and one encoder of each format. A
store that cannot answer (the database is down, the sink has no read side) is a 503 naming it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlencode

import anyio
import msgspec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from candlewick.control.prometheus import TelemetryCollector
from candlewick.control.views import health_view, markets_view, status_view
from candlewick.errors import SinkUnavailable
from candlewick.exporting.formats import FORMATS, Format, encode, picker
from candlewick.reading import CandleReader, CandleRow, StoredMarket
from candlewick.web import store
from candlewick.web.cache import Recent
from candlewick.web.params import MAX_PAGE, CandleQuery, candle_query, market_query, time_range
from candlewick.web.replies import ApiError, error_json
from candlewick.web.store import END_OF_TIME

if TYPE_CHECKING:
    from candlewick.control.methods import ServiceHost

log = logging.getLogger("candlewick.web")

__all__ = ["Api", "ClosingStream", "closing", "error_response", "guarded", "json_rows", "not_found"]

JSON: Final = "application/json"
#: What a download's file name keeps of a coin's name (no quotes, slashes or line breaks).
_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9@._-]")
#: Rows read from the store per page while streaming an export.
EXPORT_PAGE: Final = 5000
#: Seconds a listing of the stored markets is reused (counting them scans the whole table).
MARKETS_TTL: Final = 5.0

Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


def error_response(status: int, message: str, parameter: str | None = None) -> Response:
    return Response(error_json(status, message, parameter), status_code=status, media_type=JSON)


async def not_found(request: Request, exc: Exception) -> Response:
    """Starlette's 404 (and 405 of a route) as the API's JSON error."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return error_response(status, f"no such path {request.url.path!r}; the API is described at /api/v1/openapi.json")


def guarded(handler: Handler) -> Handler:
    """Answers a bad parameter with 400 and a store that cannot read with 503, both as JSON."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.message, exc.parameter)
        except (SinkUnavailable, OSError) as exc:
            log.warning("web: the store cannot answer %s: %s", request.url.path, exc)
            return error_response(503, f"the candle store is unavailable: {exc}; try again shortly")
        except Exception as exc:  # a bug: still a JSON answer, and the traceback in the log
            log.exception("web: %s failed", request.url.path)
            return error_response(500, f"internal error ({type(exc).__name__}); the daemon's log has the details")

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def _next_url(request: Request, after: int | None) -> str | None:
    """The URL of the next page (``start`` moved to ``after``), or None at the end of the range."""
    if after is None:
        return None
    params = dict(request.query_params)
    params.pop("token", None)
    params["start"] = str(after)
    return f"{request.url.path}?{urlencode(params)}"


def _range(query: CandleQuery) -> tuple[int, int]:
    return (query.start or 0, query.end if query.end is not None else END_OF_TIME)


@asynccontextmanager
async def closing(iterator: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """Close an async generator (a reader's pages, an encoder) when the block ends, not at collection."""
    try:
        yield iterator
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


class ClosingStream(StreamingResponse):
    """A streaming response that closes its body generator when it ends, however it ends (a client
    that hangs up included), so the reader's cursor and any subscription are released at once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            body = self.body_iterator
            if isinstance(body, AsyncGenerator):
                with anyio.CancelScope(shield=True):
                    await body.aclose()


def json_rows(rows: Sequence[CandleRow], columns: tuple[str, ...]) -> Sequence[Any]:
    """Rows as the JSON answer's ``rows``: the chosen columns of each reader tuple (by default all but ``derived``)."""
    pick = picker(columns)
    return [pick(row) for row in rows]


async def _limited(reader: CandleReader, query: CandleQuery) -> AsyncGenerator[Sequence[CandleRow]]:
    """The reader's pages over the query's range, cut at ``limit`` rows."""
    start, end = _range(query)
    left = query.limit
    pages = reader.stream_rows(
        query.coin, query.interval, start, end, page_size=EXPORT_PAGE, closed_only=query.closed_only
    )
    async with closing(pages):
        async for page in pages:
            if left is None:
                yield page
                continue
            yield page[:left]
            left -= len(page[:left])
            if left <= 0:
                return


async def _export_body(
    fmt: Format, first: Sequence[CandleRow], rest: AsyncGenerator[Sequence[CandleRow]]
) -> AsyncIterator[bytes]:
    """The encoded export: the page read before the answer began, then the others as they come."""

    async def pages() -> AsyncIterator[Sequence[CandleRow]]:
        yield first
        async for page in rest:
            yield page

    both = pages()
    chunks = encode(fmt, both)
    async with closing(rest), closing(both), closing(chunks):
        try:
            async for chunk in chunks:
                yield chunk
        except (SinkUnavailable, OSError) as exc:  # the answer began: all we can do is cut it short
            log.warning("web: export cut short, the store failed: %s", exc)
            raise


class Api:
    """The routes over one daemon's store and telemetry."""

    def __init__(self, host: ServiceHost) -> None:
        self.host = host
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(TelemetryCollector(host))
        self.health = guarded(self._health)
        self.status = guarded(self._status)
        self.metrics = guarded(self._metrics)
        self.markets = guarded(self._markets)
        self.candles = guarded(self._candles)
        self.export = guarded(self._export)
        self.coverage = guarded(self._coverage)
        self.stored_markets = Recent(self._read_markets, MARKETS_TTL)

    async def _read_markets(self) -> list[StoredMarket]:
        return await store.reader(self.host).markets()

    async def _health(self, request: Request) -> Response:
        """The daemon's health (the control socket's ``health``): 200, or 503 when failing."""
        health = health_view(self.host)
        return Response(
            msgspec.json.encode(health), status_code=503 if health.status == "failing" else 200, media_type=JSON
        )

    async def _status(self, request: Request) -> Response:
        """The daemon and its components (the control socket's ``status``)."""
        return Response(msgspec.json.encode(status_view(self.host)), media_type=JSON)

    async def _metrics(self, request: Request) -> Response:
        """The Prometheus exposition of the daemon's one registry."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def _markets(self, request: Request) -> Response:
        """Stored markets with their first and last open time and count (a listing up to
        :data:`MARKETS_TTL` seconds old), and whether a source follows them (as of now)."""
        followed = {(m["coin"], m["interval"]) for m in markets_view(self.host)}
        stored = await self.stored_markets.get()
        rows = [{**store.market_json(m), "followed": (m.coin, m.interval) in followed} for m in stored]
        seen = {(m.coin, m.interval) for m in stored}
        rows += [
            {"coin": c, "interval": i, "first": None, "last": None, "count": 0, "followed": True}
            for c, i in sorted(followed - seen)
        ]
        return Response(json.dumps({"markets": rows}), media_type=JSON)

    async def _candles(self, request: Request) -> Response:
        """One page of candles over ``[start, end)``: JSON rows, CSV or NDJSON, with a ``next`` cursor."""
        query = candle_query(request.query_params, paged=True)
        start, end = _range(query)
        limit = query.limit if query.limit is not None else MAX_PAGE
        result = await store.reader(self.host).rows(
            query.coin, query.interval, start, end, limit, closed_only=query.closed_only
        )
        page = result.rows
        next_url = _next_url(request, result.next)
        if query.format == "json":
            body = {
                "coin": query.coin,
                "interval": query.interval,
                "columns": list(query.columns),
                "rows": json_rows(page, query.columns),
                "next": next_url,
            }
            return Response(msgspec.json.encode(body), media_type=JSON)
        headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
        fmt = FORMATS[query.format](query.columns)
        return Response(fmt.header() + fmt.rows(page), media_type=fmt.media_type, headers=headers)

    async def _export(self, request: Request) -> Response:
        """The whole range as CSV or NDJSON, streamed page by page (never all in memory)."""
        query = candle_query(request.query_params, paged=False)
        fmt = FORMATS[query.format](query.columns)
        pages = _limited(store.reader(self.host), query)
        first: Sequence[CandleRow] = ()
        try:  # the first page before answering: a store that is down is a 503, not a cut-off 200
            first = await pages.__anext__()  # not anext(pages, ()): CPython 3.11 raises SystemError there
        except StopAsyncIteration:
            pass
        except BaseException:
            await pages.aclose()
            raise
        filename = _SAFE_NAME.sub("_", f"{query.coin}-{query.interval}") + f".{fmt.extension}"
        return ClosingStream(
            _export_body(fmt, first, pages),
            media_type=fmt.media_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    async def _coverage(self, request: Request) -> Response:
        """Per UTC day: candles stored against candles expected, and permanent losses."""
        market = market_query(request.query_params)
        start, end = time_range(request.query_params)
        days = await store.coverage(self.host, market.coin, market.interval, start, end)
        return Response(json.dumps({"coin": market.coin, "interval": market.interval, "days": days}), media_type=JSON)
