"""``[sink.sqlite]`` options."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SqliteConfig"]


class SqliteConfig(BaseModel):
    """Options of the embedded SQLite sink."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Path("candlewick.db")
    """Database file; a relative path is resolved against the working directory at start."""
    busy_timeout: float = Field(default=5.0, ge=0)
    """Seconds a write waits for another process's lock before the batch is spooled instead."""
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """``FULL`` syncs every commit (survives a power cut); ``NORMAL`` is faster, loses the
    last commits on a power cut (never on a crash)."""
    reconnect_max: float = Field(default=30.0, gt=0)
    """Longest pause, in seconds, between attempts to reopen a database that failed."""

    def resolved_path(self) -> Path:
        """The absolute database path."""
        path = self.path.expanduser()
        return path if path.is_absolute() else Path.cwd() / path
