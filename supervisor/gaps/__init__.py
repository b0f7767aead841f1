"""Gap repair and backfill jobs: keep every market complete within the exchange's window.

Pure logic (no I/O, no clock): :mod:`~candlewick.gaps.grid` (open-time arithmetic, windows,
horizons), :mod:`~candlewick.gaps.ranges` (holes, span sets, request planning),
:mod:`~candlewick.gaps.ledger` (confirmed-empty spans, re-checks, permanent losses),
:mod:`~candlewick.gaps.coverage` (what a check reads, and its holes),
:mod:`~candlewick.gaps.planning` (jobs and requests from holes), :mod:`~candlewick.gaps.jobs`
and :mod:`~candlewick.gaps.queue` (order, preemption, retries), and
:mod:`~candlewick.gaps.settings` (the one settings model). Shells:
:mod:`~candlewick.gaps.store` and :mod:`~candlewick.gaps.persist` (the SQLite state file),
:mod:`~candlewick.gaps.report` (metrics, events, logs), :mod:`~candlewick.gaps.engine` (checks)
and :mod:`~candlewick.gaps.runner` (runs jobs), and :mod:`~candlewick.gaps.component` (the
daemon component a source names as its companion).
"""

from __future__ import annotations

from candlewick.gaps.history import History, StoredTimes
from candlewick.gaps.jobs import STARTUP, URGENT, USER, Job, JobKind, JobState
from candlewick.gaps.ledger import Assessment, Ledger
from candlewick.gaps.ranges import Request, Span, find_holes, normalize, plan_requests, subtract

__all__ = [
    "STARTUP",
    "URGENT",
    "USER",
    "Assessment",
    "History",
    "Job",
    "JobKind",
    "JobState",
    "Ledger",
    "Request",
    "Span",
    "StoredTimes",
    "find_holes",
    "normalize",
    "plan_requests",
    "subtract",
]
