"""The naive collector candlewick is measured against (``benchmarks/lean_path.py`` runs it).

What a capable developer writes in an afternoon: the ``websockets`` asyncio client, ``json.loads``,
a dataclass per candle, the newest version per candle kept in a dict, and ``executemany`` into
SQLite once a second. No validation, no closed logic, no reconnect, nothing durable: it is the
floor of what collecting these frames costs in plain Python.

Usage: python benchmarks/minimal_collector.py WS_URL DB_PATH COIN,COIN,... INTERVAL,INTERVAL,...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
from dataclasses import astuple, dataclass

from websockets.asyncio.client import connect

SCHEMA = """CREATE TABLE IF NOT EXISTS candles (
    coin TEXT NOT NULL, interval TEXT NOT NULL, time INTEGER NOT NULL, close_time INTEGER NOT NULL,
    open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL,
    volume TEXT NOT NULL, trades INTEGER NOT NULL, PRIMARY KEY (coin, interval, time))"""
UPSERT = "INSERT OR REPLACE INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


@dataclass
class Candle:
    coin: str
    interval: str
    time: int
    close_time: int
    open: str
    high: str
    low: str
    close: str
    volume: str
    trades: int


class Collector:
    def __init__(self, db_path: str) -> None:
        self.db = sqlite3.connect(db_path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(SCHEMA)
        self.pending: dict[tuple[str, str, int], Candle] = {}
        self.frames = 0

    def on_message(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:  # the server's plain-text greeting
            return
        if msg.get("channel") != "candle":
            return
        d = msg["data"]
        candle = Candle(d["s"], d["i"], d["t"], d["T"], d["o"], d["h"], d["l"], d["c"], d["v"], d["n"])
        self.pending[(candle.coin, candle.interval, candle.time)] = candle
        self.frames += 1

    def flush(self) -> None:
        if not self.pending:
            return
        rows = [astuple(c) for c in self.pending.values()]
        self.pending.clear()
        with self.db:
            self.db.executemany(UPSERT, rows)

    async def flush_every_second(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.flush()


async def main(url: str, db_path: str, coins: list[str], intervals: list[str]) -> None:
    collector = Collector(db_path)
    flusher = asyncio.create_task(collector.flush_every_second())
    try:
        async with connect(url, max_size=None) as ws:
            for coin in coins:
                for interval in intervals:
                    sub = {"type": "candle", "coin": coin, "interval": interval}
                    await ws.send(json.dumps({"method": "subscribe", "subscription": sub}))
            async for raw in ws:
                collector.on_message(raw)
    finally:
        flusher.cancel()
        collector.flush()


if __name__ == "__main__":
    ws_url, path, coin_list, interval_list = sys.argv[1:5]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(ws_url, path, coin_list.split(","), interval_list.split(",")))
