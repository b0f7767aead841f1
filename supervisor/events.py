"""The kinds of event the daemon publishes, listed once for producers, the wire schema and the TUI."""

from __future__ import annotations

import enum

__all__ = ["EventKind"]


class EventKind(enum.StrEnum):
    """The ``kind`` of an event (``events`` topic, ``events.recent``); a newer daemon may send others."""

    STATE = "state"  #: a component changed state
    CONNECTED = "connected"  #: a source (re)connected: gap repair checks its markets
    DISCONNECTED = "disconnected"
    GAP_FOUND = "gap.found"
    GAP_REPAIRED = "gap.repaired"
    GAP_LOST = "gap.lost"  #: a hole passed the exchange's window: permanent loss
    JOB = "job"  #: a backfill job changed state or progressed
    SPOOL = "spool"  #: spooling started/stopped, cap reached, corrupt tail skipped
    SHUTDOWN = "shutdown"
    GRID_MISMATCH = "grid.mismatch"  #: a market's candles left candlewick's grid (data: coin, interval, expected, seen)
    GRID_RESOLVED = "grid.resolved"  #: they are back on it
    CLOCK_STEP = "clock.step"  #: the local wall clock was set (stepped) while running
