"""Live-like candle streams, the versions a store must end with, and what ``candles`` holds."""

from __future__ import annotations

import asyncpg

from candlewick.model import Candle
from candlewick.plugins._storage.rows import candle_from_row
from candlewick.plugins.timescaledb import schema

from ..helpers import candle


def market_stream(markets: int, minutes: int, updates: int) -> list[Candle]:
    """Live-like traffic: each minute, ``updates`` open versions per market, then the closed one."""
    out = []
    for m in range(minutes):
        for n in range(1, updates + 1):
            out += [candle(m, trades=n, coin=f"C{k}") for k in range(markets)]
        out += [candle(m, trades=updates + 1, coin=f"C{k}", closed=True) for k in range(markets)]
    return out


def final_versions(stream: list[Candle]) -> dict[tuple[str, str, int], Candle]:
    best: dict[tuple[str, str, int], Candle] = {}
    for c in stream:
        if c.key not in best or c.supersedes(best[c.key]):
            best[c.key] = c
    return best


ALL_ROWS = f"""
SELECT {schema.TO_MS}, coin, "interval", open::text, high::text, low::text, close::text, volume::text, trades, closed
FROM candles
"""


async def stored(dsn: str) -> dict[tuple[str, str, int], Candle]:
    """Every row of ``candles`` as candles, by key."""
    conn = await asyncpg.connect(dsn)
    try:
        records = await conn.fetch(ALL_ROWS)
    finally:
        await conn.close()
    return {c.key: c for c in (candle_from_row(*r) for r in records)}
