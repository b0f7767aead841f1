"""The TimescaleDB/PostgreSQL sink (``[sink] use = "timescaledb"``)."""

from __future__ import annotations

from candlewick.plugins.timescaledb.config import TimescaleConfig

__all__ = ["TimescaleConfig"]
