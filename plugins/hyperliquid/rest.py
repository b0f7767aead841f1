"""Hyperliquid REST ``info`` client: candle history, coin metadata, weight budget, retries.

The API a caller uses (the live source, and gap repair / backfill jobs)::

    async with HyperliquidRest("https://api.hyperliquid.xyz", budget=budget, clock=clock) as rest:
        await rest.check_coins(["BTC"])                    # SourceError listing close matches
        candles = await rest.fetch_range("BTC", "1m", start_ms, end_ms, priority=Priority.REPAIR)
        newest = await rest.fetch_latest("BTC", "1h")      # the newest 5000 the exchange keeps
        async with aclosing(rest.iter_range("BTC", "1m", start_ms, end_ms)) as pages:
            async for page in pages:                       # the same, page by page (bounded memory)
                ...

Every returned candle is validated like a websocket frame; candles whose ``T`` has passed on
the *exchange's* clock are ``closed``, the still-open newest one is not; ``origin`` is
``"rest"``. Each response's HTTP ``Date`` header is evidence for
:class:`~candlewick.runtime.exchange_clock.ExchangeClock` (``rest.exchange``), and a candle
counts as closed only if the exchange's time had surely passed its ``T`` when the request left,
or a newer candle came in the same response. Ranges follow the
exchange's semantics: every candle overlapping ``[start_ms, end_ms]``, ascending, each ``t``
once. Paging works whether the server caps a response at 500 or 5000 items: it advances past
the last ``t`` it got and stops when a page brings nothing new.

Requests are metered by :class:`~candlewick.plugins.hyperliquid.budget.WeightBudget` (one per
daemon); 429, 5xx, timeouts and dropped connections are retried with exponential backoff (the
:class:`~candlewick.runtime.backoff.Backoff` rule, never under half the ceiling; a 429 also
empties the bucket); any other 4xx raises :class:`BadRequest` at once. While
the server gives no answer at all (no connection, or it closes before responding) the delay
stays under ``unanswered_max``: such requests cost the exchange nothing, and the first one after
it comes back should not wait a minute.
"""

from __future__ import annotations

import datetime
import difflib
import email.utils
import json
import logging
import random
import ssl
from collections.abc import AsyncGenerator, Iterable, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import Any, Self

import httpx

from candlewick.errors import CandlewickError, SourceError
from candlewick.model import INTERVAL_MS, Candle, open_time
from candlewick.plugins.hyperliquid.budget import INFO_WEIGHT, Priority, WeightBudget, candle_snapshot_weight
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.protocol import parse_candle_list
from candlewick.runtime import names
from candlewick.runtime.backoff import Backoff
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.exchange_clock import ExchangeClock
from candlewick.runtime.telemetry import Telemetry

__all__ = [
    "MAX_CANDLES",
    "BadRequest",
    "HyperliquidRest",
    "RestError",
    "RestUnavailable",
]

log = logging.getLogger(__name__)

#: The exchange keeps (and returns at most) this many candles per market.
MAX_CANDLES = 5000
DEFAULT_TIMEOUT = 15.0
DEFAULT_RETRIES = 6
DEFAULT_BACKOFF_INITIAL = 2.0
DEFAULT_BACKOFF_MAX = 60.0
DEFAULT_UNANSWERED_MAX = 5.0
_BODY_EXCERPT = 300


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


class HyperliquidRest:
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
        self._meta_cache: dict[str, Any] = {}
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
                text = resp.text[:_BODY_EXCERPT]
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
            raise RestError(f"{body.get('type')}: the response is not JSON: {raw[:_BODY_EXCERPT]!r}") from exc

    # -- metadata and coin names -------------------------------------------------------------

    async def meta(self, dex: str = "", *, refresh: bool = False) -> dict[str, Any]:
        """``meta`` (perp universe) of the default or a HIP-3 ``dex``, cached."""
        key = f"meta:{dex}"
        if refresh or key not in self._meta_cache:
            body: dict[str, Any] = {"type": "meta"}
            if dex:
                body["dex"] = dex
            result = await self.info(body)
            if not isinstance(result, dict) or not isinstance(result.get("universe"), list):
                raise RestError(f"meta returned {str(result)[:_BODY_EXCERPT]!r}, expected an object with a universe")
            self._meta_cache[key] = result
        return dict(self._meta_cache[key])

    async def spot_meta(self, *, refresh: bool = False) -> dict[str, Any]:
        """``spotMeta`` (spot tokens and pairs), cached."""
        if refresh or "spot" not in self._meta_cache:
            result = await self.info({"type": "spotMeta"})
            if not isinstance(result, dict) or not isinstance(result.get("universe"), list):
                raise RestError(f"spotMeta returned {str(result)[:_BODY_EXCERPT]!r}, expected an object")
            self._meta_cache["spot"] = result
        return dict(self._meta_cache["spot"])

    async def coin_names(self, dexes: Iterable[str] = ()) -> tuple[set[str], dict[str, str]]:
        """Valid coin strings, and ``BASE/QUOTE`` aliases of spot pairs mapped to their ``@N`` name."""
        valid: set[str] = set()
        for dex in ("", *dexes):
            for entry in (await self.meta(dex)).get("universe", []):
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    valid.add(entry["name"])
        spot = await self.spot_meta()
        tokens = {t.get("index"): t.get("name") for t in spot.get("tokens", []) if isinstance(t, dict)}
        aliases: dict[str, str] = {}
        for pair in spot.get("universe", []):
            if not isinstance(pair, dict) or not isinstance(pair.get("name"), str):
                continue
            valid.add(pair["name"])
            toks = pair.get("tokens")
            if isinstance(toks, list) and len(toks) == 2 and all(tokens.get(t) for t in toks):
                alias = f"{tokens[toks[0]]}/{tokens[toks[1]]}"
                if alias != pair["name"]:
                    aliases.setdefault(alias, pair["name"])
        return valid, aliases

    async def check_coins(self, coins: Sequence[str]) -> None:
        """Raise :class:`SourceError` naming every unknown coin with its close matches."""
        dexes = sorted({c.split(":", 1)[0] for c in coins if ":" in c})
        valid, aliases = await self.coin_names(dexes)
        problems = []
        for coin in coins:
            if coin in valid:
                continue
            problems.append(_unknown_coin(coin, valid, aliases))
        if problems:
            raise SourceError(
                "; ".join(problems),
                hint="name perps as in meta (BTC, kPEPE), spot pairs as spotMeta does (PURR/USDC or @N)",
            )

    # -- candles -----------------------------------------------------------------------------

    async def candle_snapshot(
        self, coin: str, interval: str, start_ms: int, end_ms: int, *, priority: int = Priority.LIVE
    ) -> list[Candle]:
        """One ``candleSnapshot`` request, as is (no paging); weight is settled on the real size."""
        start_ms = max(0, int(start_ms))
        end_ms = max(start_ms, int(end_ms))
        step = INTERVAL_MS[interval]
        expected = min(MAX_CANDLES, (end_ms - open_time(interval, start_ms)) // step + 1)
        estimate = candle_snapshot_weight(expected)
        body = {
            "type": "candleSnapshot",
            "req": {"coin": coin, "interval": interval, "startTime": start_ms, "endTime": end_ms},
        }
        raw, sent = await self._post(body, weight=estimate, priority=priority)
        try:
            # Data computed after the request left: closed where the exchange had surely passed T by then.
            candles = parse_candle_list(raw, now_ms=self.exchange.at_ms(sent))
        except ValueError as exc:
            raise RestError(f"candleSnapshot {coin} {interval}: {exc}; body starts {raw[:_BODY_EXCERPT]!r}") from None
        actual = candle_snapshot_weight(len(candles))
        self.budget.settle(estimate, actual)
        if self._telemetry is not None and actual != estimate:
            self._weight.inc(actual - estimate)
        for c in candles:
            if c.coin != coin or c.interval != interval:
                raise RestError(f"candleSnapshot {coin} {interval} returned a candle of {c.coin} {c.interval}")
        return candles

    async def iter_range(
        self, coin: str, interval: str, start_ms: int, end_ms: int, *, priority: int = Priority.REPAIR
    ) -> AsyncGenerator[list[Candle], None]:
        """Pages of new candles overlapping ``[start_ms, end_ms]``, ascending, each ``t`` once.

        Overlap and the next page's start come from the candles' own ``t``/``T``, never from
        candlewick's grid: a candle off that grid is returned like any other.
        """
        cursor = max(0, start_ms)
        last_t = -1
        while cursor <= end_ms:
            page = await self.candle_snapshot(coin, interval, cursor, end_ms, priority=priority)
            fresh = [c for c in page if c.open_time > last_t and c.close_time >= start_ms and c.open_time <= end_ms]
            if not fresh:
                return
            fresh.sort(key=lambda c: c.open_time)
            dedup: list[Candle] = []
            for c in fresh:
                if dedup and dedup[-1].open_time == c.open_time:
                    if c.supersedes(dedup[-1]):
                        dedup[-1] = c
                    continue
                dedup.append(c)
            last_t = dedup[-1].open_time
            yield dedup
            cursor = max(dedup[-1].close_time, last_t) + 1

    async def fetch_range(
        self, coin: str, interval: str, start_ms: int, end_ms: int, *, priority: int = Priority.REPAIR
    ) -> list[Candle]:
        """Every candle overlapping ``[start_ms, end_ms]``, ascending (see :meth:`iter_range`)."""
        out: list[Candle] = []
        async with aclosing(self.iter_range(coin, interval, start_ms, end_ms, priority=priority)) as pages:
            async for page in pages:
                out.extend(page)
        return out

    def latest_start(self, interval: str, count: int = MAX_CANDLES, *, now_ms: int | None = None) -> int:
        """Start time of a range holding the newest ``count`` candles of ``interval`` (clamped at 0)."""
        now = self.now_ms() if now_ms is None else now_ms
        t = open_time(interval, now)
        if interval == "1M":
            return max(0, t - (count - 1) * 31 * 86_400_000)
        return max(0, t - (count - 1) * INTERVAL_MS[interval])

    async def fetch_latest(
        self, coin: str, interval: str, count: int = MAX_CANDLES, *, priority: int = Priority.REPAIR
    ) -> list[Candle]:
        """The newest ``count`` candles (``max``: the 5000 the exchange keeps), the open one last."""
        now = self.now_ms()
        candles = await self.fetch_range(
            coin, interval, self.latest_start(interval, count, now_ms=now), now, priority=priority
        )
        return candles[-count:]


def _unknown_coin(coin: str, valid: set[str], aliases: dict[str, str]) -> str:
    if coin in aliases:
        return f"unknown coin {coin!r}: the exchange names the spot pair {coin} {aliases[coin]!r}; use that"
    folded = {v.lower(): v for v in valid}
    candidates = sorted(valid | set(aliases))
    matches: list[str] = []
    if coin.lower() in folded:
        matches.append(folded[coin.lower()])
    for m in difflib.get_close_matches(coin, candidates, n=5, cutoff=0.6):
        shown = f"{aliases[m]} ({m})" if m in aliases else m
        if shown not in matches:
            matches.append(shown)
    if not matches:
        lowered = [c for c in candidates if coin.lower() in c.lower()][:5]
        matches = [f"{aliases[m]} ({m})" if m in aliases else m for m in lowered]
    if matches:
        return f"unknown coin {coin!r}; close matches: {', '.join(matches)}"
    return f"unknown coin {coin!r} (no close match among {len(valid)} coins)"
