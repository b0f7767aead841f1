"""``POST /info`` of the fake exchange: ``meta`` (per dex), ``perpDexs``, ``spotMeta`` and ``candleSnapshot``.

The answers follow the reference: rows of ``candleSnapshot`` overlap ``[startTime, endTime]``
within the newest ``retention`` candles, malformed bodies get 422 with a text body, and the
weight limit answers 429 with body ``null``. No I/O here: the exchange's HTTP shell calls
:meth:`InfoEndpoint.answer` with the request body.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from candlewick.model import INTERVALS, Candle
from candlewick.runtime.clock import Clock
from candlewick.testing._faults import ExchangeStats, Faults
from candlewick.testing._market import MarketModel
from candlewick.testing._subscriptions import compact, ws_candle

__all__ = ["BASE_WEIGHT", "DESERIALIZE_ERROR", "InfoEndpoint", "meta", "perp_dexs", "snapshot_request", "spot_meta"]

#: Weight of every info request this fake serves (candleSnapshot adds one per 60 rows).
BASE_WEIGHT = 20
DESERIALIZE_ERROR = b"Failed to deserialize the JSON body into the target type"

#: ``(coin, interval, start, end)`` to the candles ``candleSnapshot`` returns.
Snapshot = Callable[[str, str, int, "int | None"], list[Candle]]


def rest_candle(c: Candle) -> dict[str, Any]:
    """A candle as ``candleSnapshot`` rows have it (keys sorted)."""
    return dict(sorted(ws_candle(c).items()))


def meta(model: MarketModel, dex: object, now_ms: int | None = None) -> dict[str, Any]:
    """The ``meta`` answer: the perps of the main dex, or of HIP-3 ``dex`` (named ``dex:COIN``).

    Coins not listed yet by ``now_ms`` are absent; delisted ones carry ``isDelisted``.
    """
    universe: list[dict[str, Any]] = []
    for c in model.coins:
        if c.kind != "perp" or c.dex != (dex or "") or (now_ms is not None and not c.listed(now_ms)):
            continue
        entry: dict[str, Any] = {"name": c.name, "szDecimals": c.sz_decimals, "maxLeverage": 50}
        if c.delisted_at is not None and (now_ms is None or c.delisted_at <= now_ms):
            entry["isDelisted"] = True
        universe.append(entry)
    return {"universe": universe, "marginTables": []}


def perp_dexs(model: MarketModel) -> list[Any]:
    """The ``perpDexs`` answer: ``null`` for the main dex, then one object per HIP-3 dex."""
    dexes = sorted({c.dex for c in model.coins if c.dex})
    return [None] + [
        {"name": d, "fullName": f"{d.upper()} builder dex", "deployer": f"0x{k + 1:040x}", "oracleUpdater": None}
        for k, d in enumerate(dexes)
    ]


def spot_meta(model: MarketModel) -> dict[str, Any]:
    """The ``spotMeta`` answer: USDC and one token per spot pair of the model."""
    tokens: list[dict[str, Any]] = [
        {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
         "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True,
         "evmContract": None, "fullName": None},
    ]  # fmt: skip
    universe: list[dict[str, Any]] = []
    for k, c in enumerate(c for c in model.coins if c.kind == "spot"):
        if c.name.startswith("@"):
            index = int(c.name[1:])
            base = {"@107": "HYPE"}.get(c.name, f"TOKEN{index}")
        else:
            base = c.name.split("/")[0]
            index = k
        token_index = len(tokens)
        tokens.append(
            {"name": base, "szDecimals": c.sz_decimals, "weiDecimals": 8, "index": token_index,
             "tokenId": f"0x{token_index:032x}", "isCanonical": True, "evmContract": None, "fullName": None}
        )  # fmt: skip
        universe.append({"name": c.name, "tokens": [token_index, 0], "index": index, "isCanonical": True})
    return {"tokens": tokens, "universe": universe}


def snapshot_request(req: object) -> tuple[str, str, int, int | None] | None:
    """``(coin, interval, startTime, endTime)`` of a ``candleSnapshot`` ``req``, or ``None`` if malformed."""
    if not isinstance(req, dict):
        return None
    coin, interval = req.get("coin"), req.get("interval")
    start, end = req.get("startTime"), req.get("endTime")
    if not isinstance(coin, str) or interval not in INTERVALS:
        return None
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        return None
    if end is not None and (not isinstance(end, int) or isinstance(end, bool) or end < 0):
        return None
    return coin, str(interval), start, end


class InfoEndpoint:
    """Answers ``POST /info`` bodies, applying the REST faults and the weight limit."""

    def __init__(
        self,
        *,
        model: MarketModel,
        faults: Faults,
        stats: ExchangeStats,
        clock: Clock,
        weight_per_minute: float | None,
        snapshot: Snapshot,
    ) -> None:
        self.model = model
        self.faults = faults
        self.stats = stats
        self.clock = clock
        self.weight_per_minute = weight_per_minute
        self._snapshot = snapshot
        self._bucket = float(weight_per_minute or 0)
        self._bucket_stamp = clock.monotonic()

    def _refill(self) -> None:
        if self.weight_per_minute is None:
            return
        now = self.clock.monotonic()
        self._bucket = min(
            self.weight_per_minute, self._bucket + (now - self._bucket_stamp) * self.weight_per_minute / 60.0
        )
        self._bucket_stamp = now

    def answer(self, raw: bytes) -> tuple[int, bytes, str]:
        """Status, body and content type for one request body."""
        self.stats.rest_requests += 1
        faults = self.faults
        if faults.rate_limit_requests > 0:
            faults.rate_limit_requests -= 1
            self.stats.rate_limited += 1
            return 429, b"null", "application/json"
        if faults.server_error_requests > 0:
            faults.server_error_requests -= 1
            return 500, b"internal server error", "text/plain"
        self._refill()
        if self.weight_per_minute is not None and self._bucket < BASE_WEIGHT:
            self.stats.rate_limited += 1
            return 429, b"null", "application/json"
        try:
            body = json.loads(raw)
            kind = body["type"]
            if not isinstance(kind, str):
                raise TypeError(kind)
        except (ValueError, KeyError, TypeError):
            return 422, DESERIALIZE_ERROR, "text/plain"
        self.stats.rest_by_type[kind] = self.stats.rest_by_type.get(kind, 0) + 1
        if kind == "meta":
            result: Any = meta(self.model, body.get("dex"), int(self.clock.time() * 1000))
            weight = BASE_WEIGHT
        elif kind == "perpDexs":
            result = perp_dexs(self.model)
            weight = BASE_WEIGHT
        elif kind == "spotMeta":
            result = spot_meta(self.model)
            weight = BASE_WEIGHT
        elif kind == "candleSnapshot":
            parsed = snapshot_request(body.get("req"))
            if parsed is None:
                return 422, DESERIALIZE_ERROR, "text/plain"
            result = [rest_candle(c) for c in self._snapshot(*parsed)]
            weight = BASE_WEIGHT + math.ceil(len(result) / 60)
        else:
            return 422, DESERIALIZE_ERROR, "text/plain"
        self.stats.rest_weight += weight
        if self.weight_per_minute is not None:
            self._bucket -= weight
        return 200, compact(result).encode(), "application/json"
