"""candlewick: collects Hyperliquid OHLCV candles into TimescaleDB/PostgreSQL or SQLite."""

from candlewick._version import __version__

__all__ = ["__version__"]
