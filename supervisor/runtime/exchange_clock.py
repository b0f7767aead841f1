"""The exchange's clock as seen from here: how far the local clock is off, and what time it is there.

A host without NTP can run minutes ahead of the exchange; "has this candle closed" must be
asked of the exchange's clock. :class:`OffsetEstimator` (pure: every time is passed in)
keeps bounds on ``monotonic - exchange`` from evidence:

- an HTTP ``Date`` header (whole seconds, stamped between our request and its response)
  bounds it on both sides: ``sent - (date + 1 s) < offset <= received - date``;
- a candle frame with open time ``t`` proves the exchange's time had reached ``t`` when it
  arrived: ``offset <= received - t`` (the first frame of a candle comes right after it opens).

Evidence is held against the *monotonic* clock, which NTP never steps, so a wall clock step
changes nothing already known; only the reported wall offset (``wall - exchange``) moves, at
once. Bounds widen with age by :data:`MAX_DRIFT` (the two clocks' rates differ a little). A
two-sided sample contradicting what is known means the old evidence went stale (a suspended
host, a changed server): the contradicted side is replaced by the new sample's. A one-sided
sample (a candle frame) only narrows within the two-sided ones.

Decisions that must not come early use the *earliest* exchange time the evidence allows
(:meth:`OffsetEstimator.exchange_ms`): a candle is closed late rather than early. Without any
evidence yet, the local wall clock is all there is (:class:`ExchangeClock` falls back to it).

:class:`ExchangeClock` binds an estimator to a :class:`~candlewick.runtime.clock.Clock` and is
one itself: ``time()`` is that earliest exchange time, so code written against a clock (gap
repair) asks the exchange's without change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from candlewick.runtime.clock import Clock

__all__ = [
    "CANDLES",
    "HTTP_DATE",
    "MAX_DRIFT",
    "STEP_THRESHOLD",
    "ExchangeClock",
    "OffsetEstimate",
    "OffsetEstimator",
]

#: Largest rate difference assumed between the local monotonic clock and the exchange's (200 ppm).
MAX_DRIFT = 200e-6
#: A change of ``wall - monotonic`` larger than this (seconds) between two looks is a clock step.
STEP_THRESHOLD = 1.0
#: Kinds of evidence.
HTTP_DATE = "http-date"
CANDLES = "candles"


@dataclass(frozen=True, slots=True)
class OffsetEstimate:
    """How far the local wall clock is off the exchange's (positive: ahead), in ms."""

    offset_ms: float
    #: Half the width of the interval the offset surely lies in (``None``: bounded on one side only).
    uncertainty_ms: float | None
    #: Kinds of evidence behind it (``http-date``, ``candles``).
    evidence: tuple[str, ...]

    def describe(self) -> str:
        """``120.3 s ahead of the exchange (±0.5 s)``, ``at least 7.0 s behind the exchange`` and the like."""
        seconds = abs(self.offset_ms) / 1000
        where = "ahead of" if self.offset_ms > 0 else "behind"
        if self.uncertainty_ms is None:  # only an upper bound of the offset is known
            return f"{'at most' if self.offset_ms > 0 else 'at least'} {seconds:.1f} s {where} the exchange"
        return f"{seconds:.1f} s {where} the exchange (±{self.uncertainty_ms / 1000:.1f} s)"

    def beyond(self, limit_ms: float) -> bool:
        """True when the clocks surely differ by more than ``limit_ms`` (by the estimate, or the bound)."""
        if self.uncertainty_ms is None:
            return self.offset_ms < -limit_ms
        return abs(self.offset_ms) > limit_ms


class OffsetEstimator:
    """Bounds on ``monotonic - exchange`` (ms) from timestamped evidence; no I/O, no clock."""

    def __init__(self, *, drift: float = MAX_DRIFT) -> None:
        self.drift = drift
        # Bounds at monotonic m are [low - drift*m, high + drift*m]: stored pre-widened, so
        # merging a sample is a max/min and ageing is free.
        self._low = -math.inf
        self._high = math.inf
        self._low_kinds: set[str] = set()
        self._high_kinds: set[str] = set()
        #: Samples that contradicted the evidence before them (stale evidence replaced).
        self.conflicts = 0
        self._wall_base: float | None = None

    # -- evidence ----------------------------------------------------------------------------

    def add(self, mono_ms: float, low: float, high: float, kind: str) -> None:
        """Evidence that ``monotonic - exchange`` lay in ``[low, high]`` at ``mono_ms``."""
        if low > high:
            raise ValueError(f"empty bound [{low}, {high}]")
        cur_low, cur_high = self.bounds(mono_ms)
        w = self.drift * mono_ms
        if high < cur_low and low == -math.inf:
            # One-sided evidence only narrows what two-sided evidence allows: a lone frame of a
            # candle "from the future" must not pull the exchange's time past the Date headers.
            high = cur_low
            self.conflicts += 1
        new_low, new_high = low + w, high - w
        if high < cur_low:  # the known lower bound went stale (a suspended host, a changed server)
            self._low, self._low_kinds = new_low, {kind}
            self.conflicts += 1
        elif low > cur_high:  # the known upper bound went stale
            self._high, self._high_kinds = new_high, ({kind} if high < math.inf else set())
            self.conflicts += 1
        if new_low > self._low:
            self._low = new_low
            self._low_kinds.add(kind)
        if new_high < self._high:
            self._high = new_high
            self._high_kinds.add(kind)

    def exchange_reached(self, mono_ms: float, exchange_ms: float, kind: str = CANDLES) -> None:
        """At ``mono_ms`` the exchange's time was at least ``exchange_ms`` (a candle that had opened)."""
        self.add(mono_ms, -math.inf, mono_ms - exchange_ms, kind)

    def http_date(self, sent_mono_ms: float, received_mono_ms: float, date_ms: float, kind: str = HTTP_DATE) -> None:
        """A response stamped ``date_ms`` (whole seconds) to a request sent and answered at these times."""
        self.add(received_mono_ms, sent_mono_ms - date_ms - 1000.0, received_mono_ms - date_ms, kind)

    # -- reading -----------------------------------------------------------------------------

    @property
    def known(self) -> bool:
        """True once some evidence bounds the exchange's time from below."""
        return self._high < math.inf

    def bounds(self, mono_ms: float) -> tuple[float, float]:
        """``(low, high)`` of ``monotonic - exchange`` at ``mono_ms`` (infinite where unknown)."""
        w = self.drift * mono_ms
        return self._low - w, self._high + w

    def exchange_ms(self, mono_ms: float) -> float | None:
        """The earliest exchange time at ``mono_ms`` the evidence allows (``None`` without evidence)."""
        high = self._high + self.drift * mono_ms
        return mono_ms - high if high < math.inf else None

    def estimate(self, mono_ms: float, wall_ms: float) -> OffsetEstimate | None:
        """``wall - exchange`` now, from readings of both clocks taken together (``None``: no evidence)."""
        low, high = self.bounds(mono_ms)
        if high == math.inf:
            return None
        base = wall_ms - mono_ms
        if low == -math.inf:
            return OffsetEstimate(base + high, None, tuple(sorted(self._high_kinds)))
        low = min(low, high)  # bounds never cross (a contradiction replaces the stale side); stay safe anyway
        kinds = tuple(sorted(self._low_kinds | self._high_kinds))
        return OffsetEstimate(base + (low + high) / 2, (high - low) / 2, kinds)

    def wall_step(self, mono_ms: float, wall_ms: float, *, threshold_ms: float = STEP_THRESHOLD * 1000) -> float | None:
        """How far the wall clock stepped since the last look (ms), if more than ``threshold_ms``.

        The wall clock runs with the monotonic one except when set: ``wall - monotonic`` jumps.
        """
        base = wall_ms - mono_ms
        last, self._wall_base = self._wall_base, base
        if last is None or abs(base - last) <= threshold_ms:
            return None
        return base - last


class ExchangeClock:
    """A :class:`Clock` telling the exchange's time: ``time()`` is the earliest the evidence allows.

    ``monotonic()`` and ``sleep()`` are the local clock's. Evidence goes in through
    :meth:`saw_candle` and :meth:`saw_http_date`; :meth:`estimate` reports the offset.
    """

    def __init__(self, local: Clock, estimator: OffsetEstimator | None = None) -> None:
        self.local = local
        self.estimator = estimator or OffsetEstimator()

    # -- Clock -------------------------------------------------------------------------------

    def time(self) -> float:
        return self.now_ms() / 1000

    def monotonic(self) -> float:
        return self.local.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.local.sleep(seconds)

    # -- exchange time -----------------------------------------------------------------------

    def now_ms(self) -> int:
        """The exchange's time now (ms), as far as it has surely passed."""
        return self.at_ms(self.local.monotonic())

    def at_ms(self, monotonic: float) -> int:
        """The exchange's time (ms) at an earlier reading of ``monotonic()``, as far as it surely passed.

        Without any evidence yet, the local wall clock's time then.
        """
        exchange = self.estimator.exchange_ms(monotonic * 1000)
        if exchange is None:
            exchange = (self.local.time() - (self.local.monotonic() - monotonic)) * 1000
        return math.floor(exchange)

    def estimate(self) -> OffsetEstimate | None:
        """How far the local wall clock is off the exchange's now (``None`` before any evidence)."""
        mono = self.local.monotonic()
        return self.estimator.estimate(mono * 1000, self.local.time() * 1000)

    def step(self) -> float | None:
        """Seconds the local wall clock stepped since the last call, if it did (NTP setting it)."""
        mono = self.local.monotonic()
        jump = self.estimator.wall_step(mono * 1000, self.local.time() * 1000)
        return None if jump is None else jump / 1000

    # -- evidence ----------------------------------------------------------------------------

    def saw_candle(self, open_time_ms: int, *, received: float | None = None) -> None:
        """A candle opening at ``open_time_ms`` arrived (at monotonic ``received``, default now)."""
        mono = self.local.monotonic() if received is None else received
        self.estimator.exchange_reached(mono * 1000, open_time_ms)

    def saw_http_date(self, date_ms: float, *, sent: float, received: float) -> None:
        """A response stamped ``date_ms`` to a request sent and answered at these monotonic times."""
        self.estimator.http_date(sent * 1000, received * 1000, date_ms)
