"""The embedded SQLite sink (``[sink] use = "sqlite"``)."""

from __future__ import annotations

from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.sink import SqliteSink

__all__ = ["SqliteConfig", "SqliteSink"]
