"""When each active job should be done, from the weight left ahead of it in the queue. Pure.

The exchange's weight budget is the bottleneck of backfills, and jobs run one at a time in
queue order, so a job finishes once the weight of every job ahead of it and its own is spent:
``seconds = cumulative weight / (weight per minute / 60)``. A job of ``n`` candles still to
fetch costs ``ceil(n / page_size)`` requests of ``base_weight`` plus ``ceil(n / items_per_weight)``.
Other callers of the same budget (live catch-up) make it a lower bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from candlewick.gaps.jobs import Job
from candlewick.gaps.planning import Pricing

__all__ = ["job_weight", "queue_etas"]


def job_weight(left: int, cost: Pricing) -> int:
    """Weight of fetching ``left`` candles at the exchange's pricing."""
    if left <= 0:
        return 0
    return math.ceil(left / cost.page_size) * cost.base_weight + math.ceil(left / cost.items_per_weight)


def queue_etas(jobs: Sequence[Job], cost: Pricing, weight_per_minute: float) -> dict[str, float]:
    """Seconds until each active job is done, running ones first, then in queue order."""
    rate = weight_per_minute / 60.0
    ordered = sorted((j for j in jobs if j.active), key=lambda j: (j.state.value != "running", j.sort_key()))
    out: dict[str, float] = {}
    spent = 0
    for job in ordered:
        spent += job_weight(max(0, job.expected - job.fetched), cost)
        out[job.id] = round(spent / rate, 1)
    return out
