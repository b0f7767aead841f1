"""Gap repair and backfill jobs: keep every market complete within the exchange's window.

Pure logic (no I/O): :mod:`~candlewick.gaps.grid` (open-time arithmetic, windows, horizons),
:mod:`~candlewick.gaps.ranges` (holes, span sets, request planning),
:mod:`~candlewick.gaps.ledger` (confirmed-empty spans, re-checks, permanent losses) and
:mod:`~candlewick.gaps.jobs`. Shells: :mod:`~candlewick.gaps.store` (the SQLite state file),
:mod:`~candlewick.gaps.engine` (checks, queue, runner) and :mod:`~candlewick.gaps.component`
(the daemon component a source names as its companion).
"""

from __future__ import annotations

from candlewick.gaps.history import History, StoredTimes
from candlewick.gaps.jobs import STARTUP, URGENT, USER, Job
from candlewick.gaps.ledger import Assessment, Ledger
from candlewick.gaps.ranges import Request, Span, find_holes, normalize, plan_requests, subtract

__all__ = [
    "STARTUP",
    "URGENT",
    "USER",
    "Assessment",
    "History",
    "Job",
    "Ledger",
    "Request",
    "Span",
    "StoredTimes",
    "find_holes",
    "normalize",
    "plan_requests",
    "subtract",
]
