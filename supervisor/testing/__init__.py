"""Testing helpers shipped with candlewick: a fake Hyperliquid exchange and a fast clock.

A plugin author or user can test offline::

    from candlewick.testing import FakeExchange

    async with FakeExchange(seed=1) as exchange:
        config = {"ws_url": exchange.ws_url, "rest_url": exchange.rest_url}
        exchange.faults.duplicates = True          # switch faults at runtime
        exchange.drop_connections()
        closed = exchange.truth("BTC", "1m", start_ms, end_ms)

It serves Hyperliquid's grid (weeks from Thursday, months from the 1st);
``FakeExchange(grid_shift={"1w": 4 * DAY_MS})`` plays an exchange that opens weeks on Monday,
to see how candlewick reports a grid mismatch.

:class:`MemorySink` and :class:`PassThroughBuffer` stand in for storage, so a source plugin's
tests run a real daemon without a database; :func:`candlewick.testing.daemon.running_daemon`
runs one inside a test's own task for the length of a block.

``FakeExchange(coins=full_universe())`` serves a whole exchange (240 perps, spot pairs, the HIP-3
dex ``xyz``); ``schedule`` adds future listings and delistings, and ``list_coin``/``delist_coin``
change the listing at once. The fake enforces the per-IP websocket limits (``exchange.limits``
counts every violation and the peaks). ``candlewick simulate`` runs the same exchange in the
foreground (``--universe full``). pytest users can load the
fixtures with ``pytest_plugins = ["candlewick.testing.fixtures"]``.

:mod:`candlewick.testing.compliance` holds the suites every source, sink and buffer must pass
(it needs pytest; this package alone never imports it).
"""

from __future__ import annotations

from candlewick.testing._exchange import ExchangeStats, FakeExchange, Faults
from candlewick.testing._limits import IpLimits
from candlewick.testing._market import DEFAULT_COINS, CoinSpec, MarketModel
from candlewick.testing._universe import HIP3_DEX, full_universe, schedule
from candlewick.testing.clock import ScaledClock, SkewedClock
from candlewick.testing.components import MemoryReader, MemorySink, PassThroughBuffer

__all__ = [
    "DEFAULT_COINS",
    "HIP3_DEX",
    "CoinSpec",
    "ExchangeStats",
    "FakeExchange",
    "Faults",
    "IpLimits",
    "MarketModel",
    "MemoryReader",
    "MemorySink",
    "PassThroughBuffer",
    "ScaledClock",
    "SkewedClock",
    "full_universe",
    "schedule",
]
