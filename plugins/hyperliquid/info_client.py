"""HTTP side of the Hyperliquid REST client: ``POST /info`` with the weight budget and retries.

:class:`InfoClient` posts one info request at a time: it pays the request's weight to the
:class:`~candlewick.plugins.hyperliquid.budget.WeightBudget` (one per daemon) first; 429, 5xx,
timeouts and dropped connections are retried with exponential backoff (the
:class:`~candlewick.runtime.backoff.Backoff` rule, never under half the ceiling; a 429 also
empties the bucket); any other 4xx raises :class:`BadRequest` at once. While the server gives
no answer at all (no connection, or it closes before responding) the delay stays under
``unanswered_max``: such requests cost the exchange nothing, and the first one after it comes
back should not wait a minute. Each response's HTTP ``Date`` header is evidence for
:class:`~candlewick.runtime.exchange_clock.ExchangeClock` (``client.exchange``).
What is asked (candles, metadata) is :class:`~candlewick.plugins.hyperliquid.rest.HyperliquidRest`.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import logging
import random
import ssl
from types import TracebackType
from typing import Any, Self

import httpx

from candlewick.errors import CandlewickError
from candlewick.plugins.hyperliquid.budget import INFO_WEIGHT, Priority, WeightBudget
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.runtime import names
from candlewick.runtime.backoff import Backoff
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.exchange_clock import ExchangeClock
from candlewick.runtime.telemetry import Telemetry

__all__ = ["BODY_EXCERPT", "BadRequest", "InfoClient", "RestError", "RestUnavailable"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0
DEFAULT_RETRIES = 6
DEFAULT_BACKOFF_INITIAL = 2.0
DEFAULT_BACKOFF_MAX = 60.0
DEFAULT_UNANSWERED_MAX = 5.0
#: How much of a response body an error message quotes.
BODY_EXCERPT = 300


class RestError(CandlewickError):
    """The Hyperliquid REST endpoint failed a request."""

    title = "Hyperliquid REST error"


class BadRequest(RestError):
    """The server refused a request as invalid (4xx other than 429); retrying will not help."""

    title = "Hyperliquid refused the request"

    def __init__(self, message: str, *, status: int, body: str) -> None:
        super().__init__(message, hint="this is a bug or an unsupported coin/interval; the body says more")
        self.status = status
        self.body = body


class RestUnavailable(RestError):
    """Retries were exhausted (429s, 5xx, timeouts or connection errors)."""

    title = "Hyperliquid REST unavailable"


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class InfoClient:
    """Client of ``POST <base_url>/info``; use as an async context manager (owns its httpx client)."""

    def __init__(
        self,
        base_url: str,
        *,
        budget: WeightBudget,
        clock: Clock | None = None,
        telemetry: Telemetry | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        unanswered_max: float = DEFAULT_UNANSWERED_MAX,
        rng: random.Random | None = None,
        ssl_context: ssl.SSLContext | None = None,
        exchange: ExchangeClock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.info_url = f"{self.base_url}/info"
        self.budget = budget
        self.clock: Clock = clock or SystemClock()
        #: The exchange's clock, measured from every response's ``Date`` header.
        self.exchange = exchange or ExchangeClock(self.clock)
        self.retries = retries
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.unanswered_max = unanswered_max
        self._rng = rng or random.Random()
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=timeout, headers={"Content-Type": "application/json"}, verify=ssl_context or True
        )
        self._telemetry = telemetry
        if telemetry is not None:
            m = telemetry.metrics
            self._requests = m.counter(names.REST_REQUESTS, "REST requests by HTTP status", ("status",))
            self._weight = m.counter(names.REST_WEIGHT_USED, "REST weight spent").labels()
            m.gauge(names.REST_WEIGHT_BUDGET, "REST weight budget per minute").set(budget.per_minute)
            m.gauge(names.REST_WEIGHT_LAST_MINUTE, "REST weight spent in the last 60 s").set_function(
                budget.used_last_minute
            )

    @classmethod
    def from_config(
        cls,
        config: HyperliquidConfig,
        *,
        budget: WeightBudget,
        clock: Clock | None = None,
        telemetry: Telemetry | None = None,
        ssl_context: ssl.SSLContext | None = None,
        exchange: ExchangeClock | None = None,
    ) -> Self:
        """The client ``[sources.hyperliquid]`` describes: URL, timeouts, retries and TLS (``ca_file``).

        Every caller builds its client here (the live source, standalone gap repair and
        backfill), so none of them can leave an option out. ``ssl_context`` reuses a context
        already built from the same config; ``exchange`` is the clock its ``Date`` headers measure.
        """
        return cls(
            config.rest_url,
            budget=budget,
            clock=clock,
            telemetry=telemetry,
            timeout=config.rest_timeout,
            retries=config.rest_retries,
            backoff_initial=config.rest_backoff_initial,
            unanswered_max=config.reconnect_unreachable_max,
            ssl_context=ssl_context or config.ssl_context(),
            exchange=exchange,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    def now_ms(self) -> int:
        """The exchange's time (ms), as far as it has surely passed."""
        return self.exchange.now_ms()

    # -- transport ---------------------------------------------------------------------------

    def _count(self, status: str, weight: float = 0.0) -> None:
        if self._telemetry is not None:
            self._requests.inc(status=status)
            if weight:
                self._weight.inc(weight)

    async def post(self, body: dict[str, Any], *, weight: float, priority: int = Priority.LIVE) -> bytes:
        """POST one info request, paying ``weight`` first; retries transient failures.

        Returns the raw 200 body. Raises :class:`BadRequest` or :class:`RestUnavailable`.
        """
        raw, _ = await self._post(body, weight=weight, priority=priority)
        return raw

    async def _post(self, body: dict[str, Any], *, weight: float, priority: int) -> tuple[bytes, float]:
        """:meth:`post`, also returning the monotonic time the answered request left."""
        content = _dumps(body)
        what = body.get("type", "info")
        backoff = Backoff(self.backoff_initial, self.backoff_max, floor=0.5, rng=self._rng)
        while True:
            await self.budget.acquire(weight, priority=priority)
            unanswered = False
            sent = self.clock.monotonic()
            try:
                resp = await self._client.post(self.info_url, content=content)
            except httpx.TimeoutException as exc:
                self._count("timeout")
                failure = f"timed out ({type(exc).__name__})"
                unanswered = isinstance(exc, httpx.ConnectTimeout)
            except httpx.TransportError as exc:
                self._count("error")
                failure = f"{type(exc).__name__}: {exc}"
                unanswered = isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
            else:
                self._note_date(resp, sent)
                status = resp.status_code
                self._count(str(status), weight if status == 200 else 0.0)
                if status == 200:
                    return resp.content, sent
                text = resp.text[:BODY_EXCERPT]
                if status == 429:
                    self.budget.penalize()
                    failure = f"HTTP 429 rate limited (body {text!r})"
                elif status >= 500:
                    failure = f"HTTP {status}: {text!r}"
                else:
                    raise BadRequest(
                        f"{what} {_dumps(body).decode()} -> HTTP {status}: {text}", status=status, body=text
                    )
            if backoff.attempt >= self.retries:
                raise RestUnavailable(
                    f"{what} to {self.info_url} failed {backoff.attempt + 1} times; last: {failure}",
                    hint="check the network and rest_url; the request is retried on the next reconnect",
                )
            # No answer at all counts nothing at the exchange: retry soon.
            delay = backoff.next(cap=self.unanswered_max if unanswered else None)
            log.warning("%s %s; retry %d/%d in %.1fs", what, failure, backoff.attempt, self.retries, delay)
            await self.clock.sleep(delay)

    def _note_date(self, resp: httpx.Response, sent: float) -> None:
        """Feed the response's ``Date`` header to the exchange clock (ignored when absent or garbled)."""
        received = self.clock.monotonic()
        value = resp.headers.get("date")
        if value is None:
            return
        try:
            stamp = email.utils.parsedate_to_datetime(value)
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=datetime.UTC)
            date_ms = stamp.timestamp() * 1000
        except (TypeError, ValueError, OverflowError):
            log.debug("unreadable Date header %r", value)
            return
        self.exchange.saw_http_date(date_ms, sent=sent, received=received)

    async def info(self, body: dict[str, Any], *, weight: float = INFO_WEIGHT, priority: int = Priority.LIVE) -> Any:
        """POST and JSON-decode; the result may be any JSON value."""
        raw = await self.post(body, weight=weight, priority=priority)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise RestError(f"{body.get('type')}: the response is not JSON: {raw[:BODY_EXCERPT]!r}") from exc
