"""candlewick: collects Hyperliquid OHLCV candles into TimescaleDB/PostgreSQL or SQLite.

``candlewick.open_store()`` opens the configured store for reading (see :mod:`candlewick.api`);
it is imported on first use, so ``import candlewick`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from candlewick._version import __version__

if TYPE_CHECKING:
    from candlewick.api import CandleStore, open_store

__all__ = ["CandleStore", "__version__", "open_store"]


def __getattr__(name: str) -> Any:
    if name in ("open_store", "CandleStore"):
        from candlewick import api

        return getattr(api, name)
    raise AttributeError(f"module 'candlewick' has no attribute {name!r}")
