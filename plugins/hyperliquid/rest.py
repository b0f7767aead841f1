"""Hyperliquid REST ``info`` client: candle history and coin metadata.

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
``"rest"``. A candle counts as closed only if the exchange's time had surely passed its ``T``
when the request left, or a newer candle came in the same response. Ranges follow the
exchange's semantics: every candle overlapping ``[start_ms, end_ms]``, ascending, each ``t``
once. Paging works whether the server caps a response at 500 or 5000 items: it advances past
the last ``t`` it got and stops when a page brings nothing new.

Transport, weight budget and retries are :class:`~candlewick.plugins.hyperliquid.info_client.InfoClient`'s
(its errors are importable from here too).
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncGenerator, Iterable, Sequence
from contextlib import aclosing
from functools import cached_property
from typing import Any

from candlewick.errors import SourceError
from candlewick.model import INTERVAL_MS, Candle, open_time
from candlewick.plugins.hyperliquid.budget import Priority, candle_snapshot_weight
from candlewick.plugins.hyperliquid.info_client import BODY_EXCERPT, BadRequest, InfoClient, RestError, RestUnavailable
from candlewick.plugins.hyperliquid.protocol import parse_candle_list

__all__ = [
    "MAX_CANDLES",
    "BadRequest",
    "HyperliquidRest",
    "RestError",
    "RestUnavailable",
]

#: The exchange keeps (and returns at most) this many candles per market.
MAX_CANDLES = 5000


class HyperliquidRest(InfoClient):
    """Candle history and coin metadata over ``POST <base_url>/info`` (see :class:`InfoClient`)."""

    @cached_property
    def _meta_cache(self) -> dict[str, Any]:
        return {}

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
                raise RestError(f"meta returned {str(result)[:BODY_EXCERPT]!r}, expected an object with a universe")
            self._meta_cache[key] = result
        return dict(self._meta_cache[key])

    async def spot_meta(self, *, refresh: bool = False) -> dict[str, Any]:
        """``spotMeta`` (spot tokens and pairs), cached."""
        if refresh or "spot" not in self._meta_cache:
            result = await self.info({"type": "spotMeta"})
            if not isinstance(result, dict) or not isinstance(result.get("universe"), list):
                raise RestError(f"spotMeta returned {str(result)[:BODY_EXCERPT]!r}, expected an object")
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
            raise RestError(f"candleSnapshot {coin} {interval}: {exc}; body starts {raw[:BODY_EXCERPT]!r}") from None
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
