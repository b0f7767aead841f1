"""A one-line progress bar on a terminal's stderr; nothing at all when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]

WIDTH = 30
#: Seconds between redraws.
EVERY = 0.2


class Progress:
    """Counts rows against an expected total and redraws ``[#####.....] 12,345/100,000 rows 12%``."""

    def __init__(self, label: str, total: int, *, stream: TextIO | None = None, force: bool = False) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or self.stream.isatty()
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self._drawn = 0.0

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if self.enabled and now - self._drawn >= EVERY:
            self._drawn = now
            self._draw()

    def line(self) -> str:
        total = max(self.total, self.done)
        share = self.done / total if total else 1.0
        filled = int(share * WIDTH)
        return f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {self.done:,}/{total:,} rows {share:.0%}"

    def _draw(self) -> None:
        self.stream.write("\r" + self.line())
        self.stream.flush()

    def finish(self) -> None:
        """Draw the final count (the expected total may have included candles a filter left out)."""
        self.total = self.done
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
