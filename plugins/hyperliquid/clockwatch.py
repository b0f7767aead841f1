"""How far the local clock is from the exchange's, watched by the ``hyperliquid`` source.

:class:`ClockWatch` exports the measured offset (``candlewick_clock_offset_seconds`` and its
uncertainty), logs and publishes a step of the local clock (``clock.step``), and warns once
while the offset is beyond ``daemon.max_clock_offset``.
"""

from __future__ import annotations

import logging
import math

from candlewick.runtime import names
from candlewick.runtime.exchange_clock import ExchangeClock
from candlewick.runtime.telemetry import Metric, Telemetry

__all__ = ["ClockWatch"]

#: The source's logger: operators tune one logger for the whole feed.
log = logging.getLogger("candlewick.plugins.hyperliquid.source")

#: An offset warned about is "back to normal" only within this share of the limit (no flapping).
RECOVERY_SHARE = 0.8


class ClockWatch:
    """Looks at ``exchange`` for the source ``name``; ``last_frame`` moves with a clock step."""

    def __init__(
        self, name: str, exchange: ExchangeClock, telemetry: Telemetry, *, max_offset: float, last_frame: Metric
    ) -> None:
        self.name = name
        self.exchange = exchange
        self.telemetry = telemetry
        self.limit_ms = max_offset * 1000
        self._last_frame = last_frame
        m = telemetry.metrics
        self._offset = m.gauge(names.CLOCK_OFFSET, "Local wall clock minus the exchange's", ("source",))
        self._offset_spread = m.gauge(
            names.CLOCK_OFFSET_UNCERTAINTY, "Half-width of the interval the clock offset lies in", ("source",)
        )
        self._offset_exported = False
        self._offset_warned = False

    def look(self) -> None:
        """Export the measured clock offset; log steps of the local clock and a large offset.

        After a step, the wall times of the last frames move with the clock, so "the last frame
        came N s ago" stays true (a step forward must not make every market look stale).
        """
        exchange = self.exchange
        jump = exchange.step()
        if jump is not None:
            self._stepped(jump)
        estimate = exchange.estimate()
        if estimate is None:
            return
        if not self._offset_exported:
            self._offset_exported = True
            label = {"source": self.name}
            self._offset.set_function(lambda: _offset_s(exchange), **label)
            self._offset_spread.set_function(lambda: _spread_s(exchange), **label)
        limit = self.limit_ms
        # Back within 80 % of the limit before "back to normal": an offset near it logs once, not per look.
        off = estimate.beyond(limit) or (self._offset_warned and estimate.beyond(limit * RECOVERY_SHARE))
        if off and not self._offset_warned:
            log.warning(
                "%s: the local clock is %s; candles close on the exchange's clock, but fix NTP on this host",
                self.name, estimate.describe(),
            )  # fmt: skip
        elif self._offset_warned and not off:
            log.info("%s: the local clock is now %s", self.name, estimate.describe())
        self._offset_warned = off

    def _stepped(self, jump: float) -> None:
        frames = self._last_frame.values
        for key in [k for k in frames if k[0] == self.name]:
            frames[key] += jump
        log.warning(
            "%s: the local clock stepped %+.1f s (NTP setting it?); candles close on the exchange's clock, "
            "nothing is affected", self.name, jump,
        )  # fmt: skip
        self.telemetry.publish(
            names.EV_CLOCK_STEP, self.name, f"{self.name}: the local clock stepped {jump:+.1f} s", step=jump
        )


def _offset_s(exchange: ExchangeClock) -> float:
    estimate = exchange.estimate()
    return math.nan if estimate is None else estimate.offset_ms / 1000


def _spread_s(exchange: ExchangeClock) -> float:
    estimate = exchange.estimate()
    if estimate is None:
        return math.nan
    return math.inf if estimate.uncertainty_ms is None else estimate.uncertainty_ms / 1000
