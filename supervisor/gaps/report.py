"""What gap repair tells the operator: metrics, events and log lines, in one place.

Logging: INFO for holes found and repaired and for job results, WARNING for a hole near its
horizon, for permanent losses, for paused and failed jobs.
"""

from __future__ import annotations

import logging

from candlewick.gaps.jobs import Job
from candlewick.gaps.ledger import Ledger
from candlewick.gaps.queue import Outcome, Settled
from candlewick.gaps.ranges import Span, span_count
from candlewick.runtime import names
from candlewick.runtime.clock import Clock
from candlewick.runtime.telemetry import Metric, Telemetry

__all__ = ["Reporter"]

#: The engine's logger: what operators already filter on.
log = logging.getLogger("candlewick.gaps.engine")


class Reporter:
    """Counters, events and logs of one gap repair engine named ``name``."""

    def __init__(self, name: str, telemetry: Telemetry, clock: Clock) -> None:
        self.name = name
        self.telemetry = telemetry
        self.clock = clock
        self._warned: set[tuple[str, str, int]] = set()
        m = telemetry.metrics
        labels = ("coin", "interval")
        self.found = m.counter(names.GAPS_FOUND, "Holes found in stored candles", labels)
        self.repaired_total = m.counter(names.GAPS_REPAIRED, "Holes repaired", labels)
        self.lost_total = m.counter(names.PERMANENT_LOSSES, "Candles lost: past the exchange's window", labels)
        self.candles: Metric = m.counter(names.BACKFILL_CANDLES, "Candles fetched by backfill jobs", labels)

    # -- jobs --------------------------------------------------------------------------------

    def job(self, job: Job, message: str) -> None:
        """A job event (state change or progress) carrying the job's dict."""
        self.telemetry.publish(names.EV_JOB, self.name, message, job=job.to_dict(self.clock.monotonic()))

    def queued(self, job: Job) -> None:
        self.job(job, f"job {job.id} queued: {job.kind} {job.coin} {job.interval}")

    def running(self, job: Job) -> None:
        self.job(job, f"job {job.id} running: {job.kind} {job.coin} {job.interval}")

    def finished(self, job: Job) -> None:
        msg = f"job {job.id} {job.state}: {job.kind} {job.coin} {job.interval}, {job.fetched} candles"
        self.job(job, msg + (f" ({job.error})" if job.error else ""))

    def settled(self, settled: Settled, error: str | None) -> None:
        """What became of a job after one run."""
        job = settled.job
        if settled.final:
            if settled.outcome is Outcome.FAILED:
                log.warning("%s: job %s (%s %s) failed: %s", self.name, job.id, job.coin, job.interval, error)
            self.finished(job)
            return
        why = "for a more urgent job"
        if settled.outcome is Outcome.RETRY:
            why = f"for {settled.delay:.0f}s after a failure that may pass ({error})"
            log.warning("%s: job %s (%s %s) paused %s", self.name, job.id, job.coin, job.interval, why)
        self.job(job, f"job {job.id} paused {why}")

    # -- coverage ----------------------------------------------------------------------------

    def holes_found(self, coin: str, interval: str, new: list[Span], reason: str) -> None:
        self.found.inc(len(new), coin=coin, interval=interval)
        count = span_count(interval, new)
        log.info("%s: %d holes (%d candles) in %s %s (%s)", self.name, len(new), count, coin, interval, reason)
        self.telemetry.publish(
            names.EV_GAP_FOUND, self.name, f"{coin} {interval}: {len(new)} holes, {count} candles missing",
            coin=coin, interval=interval, holes=[list(h) for h in new], candles=count, reason=reason,
        )  # fmt: skip

    def repaired(self, job: Job, hit: list[Span]) -> None:
        coin, interval = job.market
        self.repaired_total.inc(len(hit), coin=coin, interval=interval)
        count = span_count(interval, hit)
        log.info("%s: repaired %d holes (%d candles) in %s %s", self.name, len(hit), count, coin, interval)
        self.telemetry.publish(
            names.EV_GAP_REPAIRED, self.name, f"{coin} {interval}: {len(hit)} holes repaired, {job.fetched} candles",
            coin=coin, interval=interval, holes=[list(s) for s in hit], candles=job.fetched, job=job.id,
        )  # fmt: skip

    def lost(self, coin: str, interval: str, lost: list[Span]) -> None:
        count = span_count(interval, lost)
        self.lost_total.inc(count, coin=coin, interval=interval)
        log.warning(
            "%s: %d candles of %s %s are lost for good: past the exchange's window before repair (%s)",
            self.name, count, coin, interval, ", ".join(f"{a}..{b}" for a, b in lost[:5]),
        )  # fmt: skip
        self.telemetry.publish(
            names.EV_GAP_LOST, self.name, f"{coin} {interval}: {count} candles lost (past the exchange's window)",
            coin=coin, interval=interval, spans=[list(s) for s in lost], candles=count,
        )  # fmt: skip

    def losses_on_record(self, ledger: Ledger) -> None:
        """Count the losses a loaded ledger holds (reported in an earlier run)."""
        for (coin, interval), cov in ledger.markets.items():
            count = span_count(interval, cov.lost)
            if count:
                self.lost_total.inc(count, coin=coin, interval=interval)

    def near_horizon(self, coin: str, interval: str, first: int, horizon: int, now_ms: int) -> None:
        """Warn once per hole that leaves the exchange's window soon."""
        key = (coin, interval, first)
        if key in self._warned:
            return
        self._warned.add(key)
        log.warning(
            "%s: hole in %s %s from %d leaves the exchange's window in %.0f s; repairing it first",
            self.name, coin, interval, first, max(0, horizon - now_ms) / 1000,
        )  # fmt: skip
