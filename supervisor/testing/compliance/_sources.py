"""What the source suite drives and watches: the author's feed, a running source, record checks.

Free of pytest, so it can be read (and reused) without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio

from candlewick.model import INTERVALS, Candle, is_decimal_string
from candlewick.plugin import CandleOutlet, ComponentSpec, Source
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.telemetry import Event, Telemetry
from candlewick.testing.compliance._harness import Running, build_component, eventually, running, single_errors

__all__ = ["SourceFeed", "SourceRun", "backwards", "run_source", "shape_problems"]

DECIMAL_FIELDS = ("open", "high", "low", "close", "volume")


class SourceFeed:
    """The input of the source under test, as the suite drives it.

    Subclass it for your source and return it from the suite's ``feed`` fixture. Override what
    your input can do; a check whose method you leave alone must be declared in the suite's
    ``not_applicable`` with the reason (a ticker that makes its own candles has no connection
    to drop). The defaults raise :class:`NotImplementedError` naming the check.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        #: The clock the source runs on (give the source and a fake exchange the same fast clock).
        self.clock: Clock = clock or SystemClock()

    def options(self) -> dict[str, Any]:
        """The source's config section (``[sources.<name>]``) that points it at this feed."""
        return {}

    def expected(self, candle: Candle) -> Candle | None:
        """What the input said for this closed candle (same key), or ``None`` if unknown.

        The suite compares the decimals and counts of every closed candle it can with this: a
        source must hand them on exactly (``"0.000012340"`` stays that string).
        """
        return None

    def extra_market(self) -> tuple[str, str]:
        """A (coin, interval) the source does not follow yet but can (check ``add_remove_market``)."""
        raise NotImplementedError("add_remove_market")

    def set_duplicates(self, on: bool) -> None:
        """Send every input twice while ``on`` (check ``duplicates``)."""
        raise NotImplementedError("duplicates")

    def set_out_of_order(self, on: bool) -> None:
        """Re-send an older version after each newer one while ``on`` (check ``out_of_order``)."""
        raise NotImplementedError("out_of_order")

    async def send_malformed(self) -> int:
        """Send input the source must refuse; return how many pieces (check ``malformed``)."""
        raise NotImplementedError("malformed")

    def drop_connection(self) -> None:
        """Cut the source's connection without a goodbye (check ``reconnect``)."""
        raise NotImplementedError("reconnect")


@dataclass
class SourceRun:
    """A running source: what it emitted, in order, and its telemetry."""

    source: Source
    telemetry: Telemetry
    state: Running
    candles: list[Candle] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.source.name

    def pending(self) -> int:
        """Candles sent and not yet taken from the stream."""
        return self.source.ctx.candles.pending

    def metric(self, name: str, **labels: str) -> float:
        return self.telemetry.metrics.value(name, **labels)

    def events(self, kind: str, *, after: int = 0) -> list[Event]:
        """Events of ``kind`` published by this source, after sequence number ``after``."""
        return [e for e in self.telemetry.events.recent(10_000) if e.kind == kind and e.seq > after]

    def last_seq(self) -> int:
        recent = self.telemetry.events.recent(1)
        return recent[-1].seq if recent else 0

    async def wait_for(self, check: Callable[[list[Candle]], object], what: str, *, timeout: float) -> None:
        """Wait until ``check(candles)``; fail (naming the source) if it crashes or time runs out."""

        def ready() -> object:
            self.state.check_alive(f"while the suite waited for {what}")
            return check(self.candles)

        await eventually(ready, f"source {self.name!r}: no {what}", timeout=timeout)

    async def closed_after(
        self, start: int, count: int, *, timeout: float, market: tuple[str, str] | None = None
    ) -> None:
        """Wait for ``count`` closed candles emitted after index ``start`` (of ``market``, if given)."""

        def enough(candles: list[Candle]) -> bool:
            return sum(1 for c in candles[start:] if c.closed and market in (None, c.market)) >= count

        where = f" of {market[0]}/{market[1]}" if market else ""
        await self.wait_for(enough, f"{count} closed candles{where}", timeout=timeout)


@asynccontextmanager
async def run_source(
    spec: ComponentSpec,
    feed: SourceFeed,
    *,
    start_timeout: float,
    options: Mapping[str, Any] | None = None,
    stalled_buffer: bool = False,
) -> AsyncIterator[SourceRun]:
    """Build the source on ``feed`` as the daemon would and run it, collecting every candle.

    ``stalled_buffer``: the candle stream holds one candle and nobody reads it, as when the
    buffer is full; the source then waits in ``send``.
    """
    telemetry = Telemetry(feed.clock)
    send, receive = anyio.create_memory_object_stream[Candle](1 if stalled_buffer else 100_000)
    source = build_component(
        spec, feed.options() if options is None else options, clock=feed.clock, telemetry=telemetry,
        candles=CandleOutlet(send),
    )  # fmt: skip
    if not isinstance(source, Source):
        raise AssertionError(f"{spec.name!r} built a {type(source).__name__}, not a candlewick.plugin.Source")
    with send, receive, single_errors():
        async with anyio.create_task_group() as tg:
            async with running(source, start_timeout=start_timeout) as state:
                run = SourceRun(source, telemetry, state)

                async def collect() -> None:
                    async for candle in receive:
                        run.candles.append(candle)

                if not stalled_buffer:
                    tg.start_soon(collect)
                yield run
            tg.cancel_scope.cancel()


def shape_problems(candle: object) -> list[str]:
    """What is wrong with one emitted record (nothing: it is a well-formed candle)."""
    if not isinstance(candle, Candle):
        return [f"emitted {type(candle).__name__}, expected candlewick.model.Candle"]
    c = candle
    out = [f"{f}={getattr(c, f)!r} is not an exact decimal string" for f in DECIMAL_FIELDS
           if not is_decimal_string(getattr(c, f))]  # fmt: skip
    if not isinstance(c.coin, str) or not c.coin:
        out.append(f"coin={c.coin!r} is not a non-empty string")
    if c.interval not in INTERVALS:
        out.append(f"interval={c.interval!r} is not one of {', '.join(INTERVALS)}")
    if not isinstance(c.open_time, int) or not isinstance(c.close_time, int) or c.close_time <= c.open_time:
        out.append(f"open_time={c.open_time!r}, close_time={c.close_time!r}: expected ints (ms), close after open")
    if not isinstance(c.trades, int) or isinstance(c.trades, bool) or c.trades < 0:
        out.append(f"trades={c.trades!r} is not a count")
    if c.origin not in ("live", "rest") or not isinstance(c.closed, bool):
        out.append(f"origin={c.origin!r}, closed={c.closed!r}: expected 'live'/'rest' and a bool")
    return [f"{c.coin}/{c.interval}@{c.open_time}: {p}" for p in out]


def backwards(candles: list[Candle]) -> list[str]:
    """Each emitted version that does not supersede the one emitted before it for the same candle."""
    last: dict[tuple[str, str, int], Candle] = {}
    out = []
    for c in candles:
        prev = last.get(c.key)
        if prev is not None and not c.supersedes(prev):
            out.append(f"{c.coin}/{c.interval}@{c.open_time}: {_version(c)} emitted after {_version(prev)}")
        else:
            last[c.key] = c
    return out


def _version(c: Candle) -> str:
    return f"{'closed' if c.closed else 'open'} (trades={c.trades}, volume={c.volume})"
