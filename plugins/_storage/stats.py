"""Write statistics every sink reports under the shared metric names."""

from __future__ import annotations

from candlewick.runtime import names
from candlewick.runtime.telemetry import Telemetry

__all__ = ["SinkStats"]


class SinkStats:
    """Rows written, write latency and failed writes of one sink (label ``sink``)."""

    def __init__(self, telemetry: Telemetry, sink: str) -> None:
        m = telemetry.metrics
        self.rows = m.counter(names.ROWS_WRITTEN, "Rows upserted by the sink", ("sink",)).labels(sink=sink)
        self.latency = m.gauge(names.WRITE_LATENCY, "Duration of the last batch write", ("sink",)).labels(sink=sink)
        self.errors = m.counter(names.WRITE_ERRORS, "Failed batch writes", ("sink",)).labels(sink=sink)

    def written(self, rows: int, seconds: float) -> None:
        self.rows.inc(rows)
        self.latency.set(seconds)

    def failed(self) -> None:
        self.errors.inc()
