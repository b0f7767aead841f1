"""The REST history client against the fake exchange (real HTTP) and a few transport edge cases."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from candlewick.errors import SourceError
from candlewick.model import DAY_MS, INTERVAL_MS, WEEK_MS, open_time
from candlewick.plugins.hyperliquid.budget import WeightBudget, candle_snapshot_weight
from candlewick.plugins.hyperliquid.rest import BadRequest, HyperliquidRest, RestUnavailable
from candlewick.runtime import names
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.telemetry import Telemetry
from candlewick.testing import FakeExchange, SkewedClock

from .conftest import recorded

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def rest_client(
    base_url: str,
    *,
    telemetry: Telemetry | None = None,
    client: httpx.AsyncClient | None = None,
    retries: int = 3,
    per_minute: int = 1200,
    clock: Clock | None = None,
) -> AsyncIterator[HyperliquidRest]:
    clock = clock or SystemClock()
    budget = WeightBudget(per_minute, clock, burst=1200)
    async with HyperliquidRest(
        base_url, budget=budget, clock=clock, telemetry=telemetry, client=client, retries=retries, backoff_initial=0.01
    ) as rest:
        yield rest


async def test_max_is_the_newest_5000_in_one_request(exchange: FakeExchange) -> None:
    """fetch_latest returns exactly the 5000 candles the exchange keeps, open one last, in one page."""
    telemetry = Telemetry()
    async with rest_client(exchange.rest_url, telemetry=telemetry) as rest:
        candles = await rest.fetch_latest("BTC", "1m")
    assert len(candles) == 5000
    assert exchange.stats.rest_by_type == {"candleSnapshot": 1}
    times = [c.open_time for c in candles]
    assert times == sorted(set(times))
    assert times[-1] - times[0] == 4999 * 60_000
    assert not candles[-1].closed
    assert all(c.closed and c.origin == "rest" for c in candles[:-1])
    truth = exchange.truth("BTC", "1m", times[0], times[-2])
    assert candles[:-1] == truth
    assert telemetry.metrics.value(names.REST_WEIGHT_USED) == candle_snapshot_weight(5000) == 104
    assert telemetry.metrics.value(names.REST_REQUESTS, status="200") == 1
    assert telemetry.metrics.value(names.REST_WEIGHT_BUDGET) == 1200


async def test_paging_is_exact_with_500_item_pages(exchange: FakeExchange) -> None:
    """With a 500-item cap the same 5000 candles arrive in 10 pages, each t once."""
    async with rest_client(exchange.rest_url) as rest:
        whole = await rest.fetch_latest("BTC", "1m")
        exchange.faults.page_limit = 500
        paged = await rest.fetch_latest("BTC", "1m")
    assert exchange.stats.rest_by_type["candleSnapshot"] == 1 + 10
    assert len(paged) == 5000
    assert [c.open_time for c in paged] == sorted({c.open_time for c in paged})
    earlier = {c.open_time: c for c in whole if c.closed}
    common = [c for c in paged if c.closed and c.open_time in earlier]
    assert len(common) >= 4990
    assert all(c == earlier[c.open_time] for c in common)


async def test_range_beyond_the_window_yields_only_what_exists(exchange: FakeExchange) -> None:
    """Asking for a week of 1m gives the 5000 newest; older ranges are empty."""
    async with rest_client(exchange.rest_url) as rest:
        now = rest.now_ms()
        week = await rest.fetch_range("BTC", "1m", now - 7 * 86_400_000, now)
        old = await rest.fetch_range("BTC", "1m", now - 8 * 86_400_000, now - 7 * 86_400_000)
    assert len(week) == 5000
    assert old == []


async def test_range_has_overlap_semantics(exchange: FakeExchange) -> None:
    """Like the exchange, a range includes the candle containing its start and its end."""
    async with rest_client(exchange.rest_url) as rest:
        now = rest.now_ms()
        start = open_time("1h", now) - 10 * 3_600_000 + 1234
        candles = await rest.fetch_range("BTC", "1h", start, start + 3 * 3_600_000)
    assert [c.open_time for c in candles] == [open_time("1h", start) + k * 3_600_000 for k in range(4)]


async def test_candles_off_candlewicks_grid_are_all_returned_in_small_pages() -> None:
    """Monday weeks: the week containing the start (opening before the grid's Thursday) is kept,
    and paging advances on the candles' own T, so 20-item pages bring every week exactly once."""
    async with FakeExchange(seed=3, grid_shift={"1w": 4 * DAY_MS}) as exchange:
        now = exchange.now_ms()
        start = exchange.model.open_time("1w", now) - 60 * WEEK_MS + 4 * DAY_MS  # a Friday
        truth = exchange.truth("BTC", "1w", start, now)
        exchange.faults.page_limit = 20
        async with rest_client(exchange.rest_url) as rest:
            weeks = await rest.fetch_range("BTC", "1w", start, now)
    assert truth[0].open_time < open_time("1w", start) < start
    assert [c for c in weeks if c.closed] == truth
    assert len(weeks) == 61
    assert exchange.stats.rest_by_type["candleSnapshot"] == 4


async def test_sparse_minutes_are_simply_absent(exchange: FakeExchange) -> None:
    """A coin with no-trade minutes returns fewer rows, which the pager does not mistake for the end."""
    exchange.sparse_coins.add("DOGE")
    exchange.faults.page_limit = 500
    async with rest_client(exchange.rest_url) as rest:
        candles = await rest.fetch_latest("DOGE", "1m")
    times = [c.open_time for c in candles]
    assert len(times) < 5000
    closed = [c for c in candles if c.closed]
    assert closed == exchange.truth("DOGE", "1m", times[0], closed[-1].open_time)
    assert any(b - a > INTERVAL_MS["1m"] for a, b in itertools.pairwise(times))


async def test_429_is_retried_and_empties_the_bucket(exchange: FakeExchange) -> None:
    """Rate-limited requests (HTTP 429, body null) are retried; every caller's bucket is emptied."""
    exchange.faults.rate_limit_requests = 2
    telemetry = Telemetry()
    async with rest_client(exchange.rest_url, telemetry=telemetry, per_minute=12_000) as rest:
        candles = await rest.fetch_range("BTC", "1h", rest.now_ms() - 5 * 3_600_000, rest.now_ms())
        assert rest.budget.level() < 1000  # emptied by the 429s (a full bucket would hold ~1140 now)
    assert len(candles) == 6
    assert exchange.stats.rate_limited == 2
    assert telemetry.metrics.value(names.REST_REQUESTS, status="429") == 2


async def test_server_errors_are_retried_then_reported(exchange: FakeExchange) -> None:
    """5xx is retried; when retries run out the error says what failed."""
    exchange.faults.server_error_requests = 1
    async with rest_client(exchange.rest_url) as rest:
        assert (await rest.meta())["universe"][0]["name"] == "BTC"
        exchange.faults.server_error_requests = 10
        with pytest.raises(RestUnavailable, match=r"spotMeta .* failed 4 times; last: HTTP 500"):
            await rest.spot_meta()


async def test_bad_request_is_not_retried(exchange: FakeExchange) -> None:
    """A 422 raises BadRequest at once with the server's text."""
    async with rest_client(exchange.rest_url) as rest:
        with pytest.raises(BadRequest, match="Failed to deserialize") as info:
            await rest.info({"type": "candleSnapshot", "req": {"coin": "BTC"}})
    assert info.value.status == 422
    assert exchange.stats.rest_requests == 1


async def test_unknown_coins_are_refused_with_close_matches(exchange: FakeExchange) -> None:
    """check_coins lists close matches, case slips and spot aliases, after one meta and one spotMeta."""
    async with rest_client(exchange.rest_url) as rest:
        await rest.check_coins(["BTC", "kPEPE", "PURR/USDC", "@107"])
        with pytest.raises(SourceError) as info:
            await rest.check_coins(["BTCC", "btc", "HYPE/USDC", "ZZZZZZ"])
    text = str(info.value)
    assert "unknown coin 'BTCC'; close matches: BTC" in text
    assert "unknown coin 'btc'; close matches: BTC" in text
    assert "spot pair HYPE/USDC '@107'" in text
    assert "unknown coin 'ZZZZZZ' (no close match" in text
    assert exchange.stats.rest_by_type == {"meta": 1, "spotMeta": 1}


async def test_recorded_meta_validates_coins() -> None:
    """The recorded mainnet meta (served as-is over a mock transport) accepts kPEPE and rejects PEPE."""
    meta = recorded("meta.json")["response"]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["type"] == "meta":
            return httpx.Response(200, json=meta)
        return httpx.Response(200, json={"tokens": [], "universe": []})

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        rest_client("https://api.invalid", client=client) as rest,
    ):
        await rest.check_coins(["kPEPE", "BTC", "APT"])
        with pytest.raises(SourceError, match="close matches: kPEPE"):
            await rest.check_coins(["PEPE"])


def _overlapping_pages() -> Callable[[httpx.Request], httpx.Response]:
    rows = recorded("candle_snapshot.json")["response"]

    def handler(request: httpx.Request) -> httpx.Response:
        start = json.loads(request.content)["req"]["startTime"]
        # Serve up to 10 rows from the one containing start, and repeat the previous row (an overlap).
        first = next((k for k, r in enumerate(rows) if r["T"] >= start), len(rows))
        page = rows[max(0, first - 1) : first + 10]
        return httpx.Response(200, json=page)

    return handler


async def test_overlapping_pages_are_deduplicated() -> None:
    """Pages that repeat rows at their edges still yield each recorded candle exactly once."""
    rows = recorded("candle_snapshot.json")["response"]
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(_overlapping_pages())) as client,
        rest_client("https://api.invalid", client=client) as rest,
    ):
        candles = await rest.fetch_range("kPEPE", "1h", rows[0]["t"], rows[-1]["t"])
    assert [c.open_time for c in candles] == [r["t"] for r in rows]


async def test_timeouts_are_retried() -> None:
    """A timed-out request is retried; the second attempt's answer is returned."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=[])

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        rest_client("https://api.invalid", client=client) as rest,
    ):
        assert await rest.fetch_range("BTC", "1m", 0, 60_000) == []
    assert calls == 2


@pytest.mark.parametrize("offset", [120.0, -120.0])
async def test_closed_means_closed_on_the_exchange_whatever_the_local_clock(
    exchange: FakeExchange, offset: float
) -> None:
    """With the host clock 2 min off, the open candle stays open and the offset is measured from Date."""
    async with rest_client(exchange.rest_url, clock=SkewedClock(SystemClock(), offset)) as rest:
        candles = await rest.fetch_range("BTC", "1m", exchange.now_ms() - 10 * 60_000, exchange.now_ms())
        estimate = rest.exchange.estimate()
    assert candles[-1].open_time >= open_time("1m", exchange.now_ms()) - 60_000  # the open one, or just closed
    assert not candles[-1].closed or exchange.now_ms() > candles[-1].close_time
    assert all(c.closed for c in candles[:-1])
    assert estimate is not None
    assert estimate.evidence == ("http-date",)
    assert estimate.uncertainty_ms is not None
    assert abs(estimate.offset_ms - offset * 1000) <= estimate.uncertainty_ms <= 700


async def test_a_newer_candle_in_the_same_page_proves_the_older_closed() -> None:
    """With the local clock far behind and no Date header, every candle but the newest is closed anyway."""
    rows = recorded("candle_snapshot.json")["response"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=rows, headers={"Date": "not a date"})

    behind = SkewedClock(SystemClock(), rows[0]["t"] / 1000 - SystemClock().time())  # the first candle's open
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        rest_client("https://api.invalid", client=client, clock=behind) as rest,
    ):
        candles = await rest.candle_snapshot("kPEPE", "1h", rows[0]["t"], rows[-1]["t"])
        assert rest.exchange.estimate() is None  # an unreadable Date is no evidence
    assert [c.closed for c in candles] == [True] * (len(rows) - 1) + [False]


async def test_non_candle_body_is_a_clear_error() -> None:
    """A 200 whose body is not a candle array raises naming the market."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": "nope"})

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client,
        rest_client("https://api.invalid", client=client) as rest,
    ):
        with pytest.raises(Exception, match="candleSnapshot BTC 1m: not a candle array"):
            await rest.candle_snapshot("BTC", "1m", 0, 60_000)


@pytest.mark.parametrize("fault", ["offline", "hang_up"])
async def test_no_answer_is_retried_soon_however_long_the_backoff(exchange: FakeExchange, fault: str) -> None:
    """Refused or hung-up requests wait at most unanswered_max; a server's 5xx waits the full backoff."""
    if fault == "offline":
        exchange.go_offline()
    else:
        exchange.faults.refuse_connections = True
    clock = SystemClock()
    async with HyperliquidRest(
        exchange.rest_url, budget=WeightBudget(1200, clock, burst=1200), clock=clock,
        retries=3, backoff_initial=30.0, unanswered_max=0.05,
    ) as rest:  # fmt: skip
        with anyio.fail_after(5), pytest.raises(RestUnavailable, match="failed 4 times"):
            await rest.meta()
        await exchange.go_online()
        exchange.faults.refuse_connections = False
        exchange.faults.server_error_requests = 1
        with anyio.move_on_after(1) as waited:
            await rest.meta()
        assert waited.cancelled_caught, "an HTTP 500 was retried without the full backoff"
