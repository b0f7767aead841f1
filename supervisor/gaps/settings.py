"""The one settings model of gap repair: ``[sources.<source>-backfill]``.

The component reads the check schedule (``detect``, ``check_every``, ``startup_delay``,
``reconnect_settle``, ``outage_*``), the engine the rest; both get this one object. Timings
that are not options (retry backoff, progress events, polling) are named constants beside the
code that uses them (:mod:`candlewick.gaps.queue`, :mod:`candlewick.gaps.engine`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GapRepairConfig"]


class GapRepairConfig(BaseModel):
    """Options of gap repair (``[sources.<source>-backfill]``, all optional)."""

    model_config = ConfigDict(extra="forbid")

    detect: bool = True
    """Look for holes by itself (at start, after reconnects, periodically); off: run only jobs asked for."""
    check_every: float = Field(default=600.0, gt=0)
    """Seconds between periodic checks of every market."""
    startup_delay: float = Field(default=15.0, ge=0)
    """Seconds after start before the first check, so the live source's own catch-up lands first."""
    reconnect_settle: float = Field(default=2.0, ge=0)
    """Seconds after a websocket (re)connect before its markets are checked."""
    outage_check_every: float = Field(default=5.0, ge=0)
    """Seconds between checks while the live source is disconnected (0: no checks during outages)."""
    outage_grace: float = Field(default=1.0, ge=0)
    """During an outage, a closed candle counts as missing this many seconds after its close."""
    grace: float = Field(default=10.0, ge=0)
    """A closed candle counts as missing only this many seconds after its close (live closing and flush)."""
    confirm_delay: float = Field(default=3.0, ge=0)
    """A hole found by a check is repaired only if it is still there this many seconds later
    (candles the live source just fetched may still be in the buffer)."""
    horizon_warning: float = Field(default=3600.0, ge=0)
    """Warn, and repair first, when a hole leaves the exchange's window within this many seconds."""
    verify_timeout: float = Field(default=60.0, gt=0)
    """Seconds a finished job waits for the sink to show its candles committed before it fails."""
    recheck_after: float = Field(default=180.0, ge=0)
    """Recent spans the exchange returned empty are fetched once more this many seconds later (late flat rows)."""
    late_window: float = Field(default=900.0, ge=0)
    """Empty spans that ended within this many seconds count as recent."""
    keep_pending: bool = True
    """Keep jobs still queued or running at shutdown for the next start; off: cancel them (one-shot runs)."""
    window: int | None = Field(default=None, gt=0)
    """Candles the exchange keeps per market (default: what the source plugin says, 5000 for Hyperliquid);
    holes older than that are reported as permanent losses."""
    state_file: str | None = None
    """Job queue and coverage ledger file, relative to ``[daemon] data_dir``. Default
    ``backfill-<sink>-<digest>.sqlite``: one per sink and database, since its holes and losses are
    that database's (an earlier version's ``backfill.sqlite`` is renamed to it at first start)."""
