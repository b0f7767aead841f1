"""Shared by the read-path scripts: a scratch PostgreSQL database, a stand-alone sink context and stores
filled with synthetic candles."""

from __future__ import annotations

import logging
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from candlewick.config import Settings
from candlewick.model import Candle, close_time, next_open
from candlewick.plugin import CandleOutlet, ComponentContext, Sink
from candlewick.runtime.clock import SystemClock
from candlewick.runtime.telemetry import Telemetry


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """A new database on the PostgreSQL ``server`` (a DSN without a database) for one run; yields its
    DSN and drops it afterwards."""
    database = f"candlewick_bench_{secrets.token_hex(4)}"
    subprocess.run(["psql", f"{server}/postgres", "-qc", f"CREATE DATABASE {database}"], check=True)
    try:
        yield f"{server}/{database}"
    finally:
        subprocess.run(["psql", f"{server}/postgres", "-qc", f"DROP DATABASE {database} WITH (FORCE)"], check=True)


def context(name: str, config: Any) -> ComponentContext[Any]:
    """What the daemon would hand a sink, without the daemon."""
    clock = SystemClock()
    send, receive = anyio.create_memory_object_stream[Candle](1)
    send.close()
    receive.close()
    return ComponentContext(
        name=name, config=config, settings=Settings(sources={}), telemetry=Telemetry(clock), clock=clock,
        log=logging.LoggerAdapter(logging.getLogger(name), {}), candles=CandleOutlet(send),
    )  # fmt: skip


def synthetic(coin: str, interval: str, start: int, n: int, *, open_last: bool = True) -> Iterator[Candle]:
    """``n`` candles from ``start`` with varied exact decimals; the newest one open when ``open_last``."""
    t = start
    for i in range(n):
        price = f"{37000 + i % 997}.{i % 100:02d}5"
        yield Candle(
            coin, interval, t, close_time(interval, t), price, f"{37100 + i % 997}", f"{36900 + i % 991}.125", price,
            f"{i % 50}.00012340", 10 + i % 40, closed=not (open_last and i == n - 1),
        )  # fmt: skip
        t = next_open(interval, t)


async def fill(sink: Sink, candles: Iterator[Candle], *, batch: int = 5000) -> int:
    """Run ``sink`` and write ``candles`` in batches; returns how many."""
    written = 0
    async with anyio.create_task_group() as tg:
        await tg.start(sink.run)
        chunk: list[Candle] = []
        for c in candles:
            chunk.append(c)
            if len(chunk) == batch:
                await sink.write(chunk)
                written += len(chunk)
                chunk = []
        if chunk:
            await sink.write(chunk)
            written += len(chunk)
        tg.cancel_scope.cancel()
    return written
