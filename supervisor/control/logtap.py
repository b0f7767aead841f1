"""The daemon's log records, collected for ``logs`` subscribers."""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any, Final

__all__ = ["LOG_BACKLOG", "LogTap"]

#: Log records held between deliveries; older ones are dropped.
LOG_BACKLOG: Final = 1000


class LogTap(logging.Handler):
    """Collects log records while ``active``; safe from any thread, never blocks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.active = False
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_BACKLOG)
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.active:
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        entry = {"time": record.created, "level": record.levelname, "logger": record.name, "message": message}
        entry["levelno"] = record.levelno
        with self._lock:
            self.records.append(entry)

    def take(self) -> list[dict[str, Any]]:
        """Every record collected since the last call."""
        with self._lock:
            out = list(self.records)
            self.records.clear()
        return out
