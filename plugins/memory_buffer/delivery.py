"""Getting batches into the sink: one attempt at a time, a retry schedule, and what it refuses.

:class:`SinkDelivery` writes a batch with ``write_timeout``; a sink that refuses
(:class:`~candlewick.errors.SinkUnavailable`, a timeout or another error) is retried after the
one :class:`~candlewick.runtime.backoff.Backoff` rule, and its going down and coming back are
logged once each. It replays the spool's oldest batch; a batch the sink fails
``reject_after`` times is split by halves until the candles it refuses on their own are
known, and those are set aside in ``<spool>/rejected/``. When and what to write is the
buffer's (:mod:`.buffer`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import anyio

from candlewick.errors import SinkUnavailable
from candlewick.model import Candle
from candlewick.plugin import ComponentContext, Sink
from candlewick.plugins.memory_buffer.config import MemoryBufferConfig
from candlewick.plugins.memory_buffer.spool import Spool, SpoolEntry
from candlewick.runtime import names
from candlewick.runtime.backoff import Backoff

__all__ = ["STARTUP_GRACE", "Outcome", "SinkDelivery"]

#: Seconds after start during which a refusing sink is presumed to be still connecting.
STARTUP_GRACE = 5.0


class Outcome(enum.Enum):
    """How one write attempt ended."""

    WRITTEN = "written"
    UNAVAILABLE = "unavailable"  # SinkUnavailable or a timeout: try again later
    FAILED = "failed"  # any other error: the batch may be bad


class SinkDelivery:
    """Writes batches to the sink, schedules retries and sets aside what it refuses for good."""

    def __init__(
        self,
        ctx: ComponentContext[MemoryBufferConfig],
        *,
        keep: Callable[[Sequence[Candle]], Awaitable[object]],
        where: Callable[[], Path],
    ) -> None:
        """``keep`` spools a batch a cancelled write was carrying; ``where`` is the spool directory (for logs)."""
        self.ctx = ctx
        self.config = ctx.config
        self._keep = keep
        self._where = where
        self._backoff = Backoff(initial=self.config.retry_initial, maximum=self.config.retry_max, floor=0.5)
        #: Monotonic time before which the sink is not tried again.
        self.retry_at = 0.0
        #: The last attempt found the sink unavailable or failing.
        self.sink_down = False
        #: A write is under way.
        self.writing = False
        #: Monotonic time the buffer started (a refusal right after is not worth a warning).
        self.started_at = 0.0
        self._head_failures = 0
        self._last_error = ""

    async def write(self, sink: Sink, batch: Sequence[Candle], *, spooled: bool, quiet: bool = False) -> Outcome:
        """One attempt to write ``batch``; schedules the next attempt on failure."""
        self.writing = True
        try:
            with anyio.fail_after(self.config.write_timeout):
                await sink.write(batch)
        except anyio.get_cancelled_exc_class():
            if not spooled:  # stopped mid-write: keep the batch on disk
                with anyio.CancelScope(shield=True):
                    await self._keep(batch)
            raise
        except (SinkUnavailable, TimeoutError) as exc:
            self._failed(sink, exc)
            return Outcome.UNAVAILABLE
        except Exception as exc:
            if quiet:
                self._last_error = f"{type(exc).__name__}: {exc}"
                return Outcome.FAILED
            self.ctx.log.error(
                "sink %s failed a batch of %d candles: %s: %s", sink.name, len(batch), type(exc).__name__, exc,
                exc_info=exc,
            )  # fmt: skip
            self._failed(sink, exc)
            return Outcome.FAILED
        finally:
            self.writing = False
        self._backoff.reset()
        self.retry_at = 0.0
        if self.sink_down:
            self.sink_down = False
            self.ctx.log.info("sink %s takes writes again", sink.name)
        return Outcome.WRITTEN

    def _failed(self, sink: Sink, exc: BaseException) -> None:
        self._last_error = f"{type(exc).__name__}: {exc}"
        now = self.ctx.clock.monotonic()
        self.retry_at = now + self._backoff.next()
        if not self.sink_down:
            self.sink_down = True
            # Right after start the sink may still be connecting: not worth a warning.
            level = logging.INFO if now - self.started_at < STARTUP_GRACE else logging.WARNING
            self.ctx.log.log(level, "sink %s refused a batch (%s); spooling to %s", sink.name, exc, self._where())

    async def replay_one(self, sink: Sink, spool: Spool) -> None:
        """Write the oldest spooled batch; drop it from the spool once committed."""
        entry = spool.head()
        if entry is None:
            return
        candles = await spool.read(entry)
        if isinstance(candles, str):
            await self._reject(spool, entry, f"unreadable: {candles}")
            return
        outcome = await self.write(sink, candles, spooled=True)
        if outcome is Outcome.WRITTEN:
            self._head_failures = 0
            await spool.remove(entry)
            if not spool.batches:
                self.ctx.log.info("spool drained")
                self.ctx.telemetry.publish(names.EV_SPOOL, self.ctx.name, "spool drained", state="empty")
        elif outcome is Outcome.FAILED:
            self._head_failures += 1
            if self._head_failures >= self.config.reject_after:
                self._head_failures = 0
                refused = await self._isolate(sink, candles)
                if refused is None:
                    return  # the sink became unavailable meanwhile: the batch stays at the head
                await self._reject(
                    spool,
                    entry,
                    f"the sink failed it {self.config.reject_after} times; {len(refused)} of its {len(candles)} "
                    f"candles are refused on their own; last error: {self._last_error}",
                    refused,
                )

    async def _isolate(self, sink: Sink, candles: Sequence[Candle]) -> list[Candle] | None:
        """Write the parts of a failing batch the sink accepts (by halves); return the candles it
        refuses one by one, or ``None`` if the sink became unavailable meanwhile."""
        outcome = await self.write(sink, candles, spooled=True, quiet=True)
        if outcome is Outcome.WRITTEN:
            return []
        if outcome is Outcome.UNAVAILABLE:
            return None
        if len(candles) == 1:
            return list(candles)
        middle = len(candles) // 2
        first = await self._isolate(sink, candles[:middle])
        if first is None:
            return None
        second = await self._isolate(sink, candles[middle:])
        return None if second is None else first + second

    async def _reject(
        self, spool: Spool, entry: SpoolEntry, reason: str, candles: Sequence[Candle] | None = None
    ) -> None:
        target = await spool.quarantine(entry, reason, candles)
        self.ctx.log.error("spooled candles set aside in %s: %s", target, reason)
        self.ctx.telemetry.publish(
            names.EV_SPOOL,
            self.ctx.name,
            f"batch set aside in {target}: {reason}",
            problem="rejected",
            path=str(target),
        )
