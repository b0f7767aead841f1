"""The source compliance suite: what every candlewick source must survive.

Subclass :class:`SourceSuite` in a test module, name your plugin and give the suite a
:class:`SourceFeed` that drives your source's input::

    import pytest
    from candlewick.testing.compliance import SourceFeed, SourceSuite

    class TickerFeed(SourceFeed):
        def options(self):
            return {"coins": ["AAA"], "period": 0.01}

    class TestTicker(SourceSuite):
        plugin = "ticker"                      # the entry-point name in pyproject.toml
        not_applicable = {"reconnect": "makes its own candles: there is no connection to drop"}

        @pytest.fixture
        def feed(self):
            return TickerFeed()

Run it with ``pytest -p anyio`` (anyio's pytest plugin; add ``anyio_backend`` to pick asyncio,
trio or both). A check your source cannot meet by its nature is declared in ``not_applicable``
with the reason; it is reported as skipped with that reason, never silently passed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import anyio
import pytest
from pydantic import BaseModel

from candlewick.model import INTERVALS
from candlewick.plugin import ComponentSpec, Source
from candlewick.runtime import names
from candlewick.testing.compliance._harness import build_component, load_spec
from candlewick.testing.compliance._sources import SourceFeed, SourceRun, backwards, run_source, shape_problems

__all__ = ["CHECKS", "SourceFeed", "SourceStructure", "SourceSuite"]

#: Checks a source may declare not applicable (``not_applicable = {check: reason}``).
CHECKS = ("duplicates", "out_of_order", "malformed", "reconnect", "add_remove_market")
#: The SourceFeed method each check drives.
FEED_METHODS = {
    "duplicates": "set_duplicates", "out_of_order": "set_out_of_order", "malformed": "send_malformed",
    "reconnect": "drop_connection", "add_remove_market": "extra_market",
}  # fmt: skip


@pytest.mark.anyio
class SourceStructure:
    """The structural checks: registration, options, start and stop. They need no input."""

    #: The plugin's entry-point name (``[project.entry-points.candlewick]``).
    plugin: ClassVar[str] = ""
    #: The source's component name; default: ``plugin``.
    component: ClassVar[str] = ""
    #: Checks of :data:`CHECKS` that cannot apply to this source, with the reason.
    not_applicable: ClassVar[Mapping[str, str]] = {}
    #: Seconds the source may take to call ``task_status.started()``.
    start_timeout: ClassVar[float] = 10.0
    #: Seconds the source may take to stop once cancelled (the daemon's ``shutdown_timeout`` is 10).
    shutdown_deadline: ClassVar[float] = 2.0
    #: Real seconds the suite waits for the candles a check needs.
    candle_timeout: ClassVar[float] = 15.0

    @pytest.fixture
    def source_spec(self, anyio_backend: Any) -> ComponentSpec:
        """The spec under test, loaded through the plugin's entry point; skipped on a backend it declines."""
        if not self.plugin:
            pytest.fail(f"{type(self).__name__}: set plugin = '<entry-point name>' (or override source_spec)")
        spec = load_spec(self.plugin, "source", self.component or self.plugin)
        backend = anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0]
        if backend not in spec.backends:
            pytest.skip(f"not applicable: {spec.name!r} runs on {', '.join(sorted(spec.backends))} only")
        return spec

    @pytest.fixture
    def feed(self) -> SourceFeed:
        """The input the suite drives; override it with your :class:`SourceFeed`."""
        return SourceFeed()

    def applies(self, check: str, feed: SourceFeed) -> None:
        """Skip, visibly and with the declared reason, a check declared not applicable; fail one the
        feed cannot drive and that is not declared."""
        reason = self.not_applicable.get(check)
        if reason is not None:
            pytest.skip(f"not applicable to {self.plugin or self.component}: {reason}")
        method = FEED_METHODS[check]
        if getattr(type(feed), method) is getattr(SourceFeed, method):
            pytest.fail(
                f"check {check!r}: {type(feed).__name__} does not implement {method}(); implement it, "
                f"or declare not_applicable = {{{check!r}: '<why it cannot apply>'}}"
            )

    @asynccontextmanager
    async def run(self, spec: ComponentSpec, feed: SourceFeed, **kw: Any) -> AsyncIterator[SourceRun]:
        async with run_source(spec, feed, start_timeout=self.start_timeout, **kw) as run:
            yield run

    def test_spec_is_a_source(self, source_spec: ComponentSpec) -> None:
        """The spec registers a source with a pydantic options model (or none)."""
        assert source_spec.kind == "source", f"{source_spec.name!r} is registered as a {source_spec.kind}"
        model = source_spec.config_model
        assert model is None or issubclass(model, BaseModel), "config_model must be a pydantic BaseModel subclass"

    def test_not_applicable_names_known_checks_with_reasons(self) -> None:
        """Every declared exception names a check of the suite and says why."""
        for check, reason in self.not_applicable.items():
            assert check in CHECKS, f"not_applicable names {check!r}; the checks are {', '.join(CHECKS)}"
            assert reason.strip(), f"not_applicable[{check!r}] gives no reason"

    async def test_starts_and_stops_within_the_deadline(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """run() calls started(), keeps running, and returns promptly once cancelled."""
        async with self.run(source_spec, feed) as run:
            run.state.check_alive("right after starting")
        assert run.state.stop_seconds is not None
        assert run.state.stop_seconds < self.shutdown_deadline, (
            f"source {run.name!r} took {run.state.stop_seconds:.2f}s to stop once cancelled "
            f"(deadline {self.shutdown_deadline:g}s): do not shield long waits from cancellation"
        )

    async def test_markets_and_describe_are_plain_data(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """markets() is (coin, interval) pairs; describe() is JSON-able (the control socket sends both)."""
        import json

        source = build_component(source_spec, feed.options(), clock=feed.clock)
        assert isinstance(source, Source)
        for market in source.markets():
            assert isinstance(market, tuple), f"markets() yields {market!r}, not a (coin, interval) tuple"
            assert len(market) == 2, f"markets() yields {market!r}, not (coin, interval)"
            assert market[1] in INTERVALS, f"markets() yields interval {market[1]!r}"
        json.dumps(source.describe())


class SourceSuite(SourceStructure):
    """Every check: the structural ones and what the source does with its input."""

    async def test_candles_have_the_one_record_shape_with_exact_decimals(
        self, source_spec: ComponentSpec, feed: SourceFeed
    ) -> None:
        """Every record is a Candle; closed ones carry exactly the decimals the input sent."""
        async with self.run(source_spec, feed) as run:
            await run.closed_after(0, 3, timeout=self.candle_timeout)
        problems = [p for c in run.candles for p in shape_problems(c)]
        assert not problems, "\n".join(problems[:20])
        compared = 0
        for c in (c for c in run.candles if c.closed):
            sent = feed.expected(c)
            if sent is None:
                continue
            compared += 1
            got = (c.open, c.high, c.low, c.close, c.volume, c.trades, c.close_time)
            want = (sent.open, sent.high, sent.low, sent.close, sent.volume, sent.trades, sent.close_time)
            assert got == want, f"{c.coin}/{c.interval}@{c.open_time}: emitted {got}, the input said {want}"
        assert compared, "feed.expected() knew none of the closed candles: return what the input said"

    async def test_stops_promptly_while_the_buffer_is_full(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """Waiting in ``candles.send`` on a full buffer (backpressure), the source still stops at once."""
        async with self.run(source_spec, feed, stalled_buffer=True) as run:
            await run.wait_for(lambda _: run.pending() >= 1, "candle sent into the full buffer",
                               timeout=self.candle_timeout)  # fmt: skip
            await anyio.sleep(0.2)
            run.state.check_alive("while the buffer was full")
        assert run.state.stop_seconds is not None
        assert run.state.stop_seconds < self.shutdown_deadline, (
            f"source {run.name!r} took {run.state.stop_seconds:.2f}s to stop while waiting on a full buffer"
        )

    async def test_never_backwards_for_one_candle(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """Each version emitted for a candle supersedes the one before (closed is final)."""
        async with self.run(source_spec, feed) as run:
            await run.closed_after(0, 3, timeout=self.candle_timeout)
        assert not backwards(run.candles), "\n".join(backwards(run.candles)[:20])

    async def test_duplicate_input(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """Input sent twice: nothing goes backwards, no closed candle is emitted twice."""
        self.applies("duplicates", feed)
        await self._faulty_input(source_spec, feed, feed.set_duplicates)

    async def test_out_of_order_input(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """Older versions sent after newer ones: nothing goes backwards."""
        self.applies("out_of_order", feed)
        await self._faulty_input(source_spec, feed, feed.set_out_of_order)

    async def _faulty_input(self, spec: ComponentSpec, feed: SourceFeed, switch: Any) -> None:
        async with self.run(spec, feed) as run:
            await run.wait_for(lambda cs: cs, "candles", timeout=self.candle_timeout)
            switch(True)
            try:
                await run.closed_after(len(run.candles), 3, timeout=self.candle_timeout)
            finally:
                switch(False)
        assert not backwards(run.candles), "\n".join(backwards(run.candles)[:20])
        closed = [c for c in run.candles if c.closed]
        twice = {c for c in closed if closed.count(c) > 1}
        assert not twice, f"closed candles emitted twice: {sorted(c.key for c in twice)[:10]}"

    async def test_malformed_input_is_counted_and_survived(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """Input the source refuses is counted under candlewick_malformed_frames_total; it keeps going."""
        self.applies("malformed", feed)
        async with self.run(source_spec, feed) as run:
            await run.wait_for(lambda cs: cs, "candles", timeout=self.candle_timeout)
            sent = await feed.send_malformed()
            assert sent > 0, "feed.send_malformed() sent nothing"

            def counted() -> bool:
                return run.metric(names.MALFORMED, source=run.name) >= 1

            await run.wait_for(lambda _: counted(), f"{names.MALFORMED}{{source={run.name!r}}} >= 1 after "
                               f"{sent} malformed inputs", timeout=self.candle_timeout)  # fmt: skip
            await run.closed_after(len(run.candles), 1, timeout=self.candle_timeout)
        assert run.metric(names.MALFORMED, source=run.name) <= sent

    async def test_reconnects_after_a_dropped_connection(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """A cut connection is published (disconnected, connected), counted, and the candles resume."""
        self.applies("reconnect", feed)
        async with self.run(source_spec, feed) as run:
            await run.wait_for(lambda cs: cs, "candles", timeout=self.candle_timeout)
            seq = run.last_seq()
            feed.drop_connection()
            await run.wait_for(lambda _: run.events(names.EV_DISCONNECTED, after=seq), f"{names.EV_DISCONNECTED} "
                               "event after the drop", timeout=self.candle_timeout)  # fmt: skip
            await run.wait_for(lambda _: run.events(names.EV_CONNECTED, after=seq), f"{names.EV_CONNECTED} "
                               "event after the drop", timeout=self.candle_timeout)  # fmt: skip
            await run.closed_after(len(run.candles), 1, timeout=self.candle_timeout)
            assert run.metric(names.RECONNECTS, source=run.name) >= 1, f"{names.RECONNECTS} did not count it"
        for event in run.events(names.EV_CONNECTED) + run.events(names.EV_DISCONNECTED):
            assert event.source == run.name, f"event {event.kind} names source {event.source!r}, not {run.name!r}"

    async def test_market_added_and_removed_while_running(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """add_market() starts candles of a market; remove_market() stops them; markets() follows."""
        self.applies("add_remove_market", feed)
        market = feed.extra_market()
        async with self.run(source_spec, feed) as run:
            await run.wait_for(lambda cs: cs, "candles", timeout=self.candle_timeout)
            assert market not in run.source.markets(), f"{market} is followed before add_market()"
            await run.source.add_market(*market)
            assert market in run.source.markets(), "markets() does not list the added market"
            await run.closed_after(len(run.candles), 1, timeout=self.candle_timeout, market=market)
            await run.source.remove_market(*market)
            assert market not in run.source.markets(), "markets() still lists the removed market"
            # What was under way may still close; after that nothing of the market comes.
            await run.closed_after(len(run.candles), 2, timeout=self.candle_timeout)
            mark = len(run.candles)
            await run.closed_after(mark, 2, timeout=self.candle_timeout)
            late = [c for c in run.candles[mark:] if c.market == market]
            assert not late, f"{len(late)} candles of removed {market} emitted after removal settled"

    async def test_counters_the_dashboard_reads(self, source_spec: ComponentSpec, feed: SourceFeed) -> None:
        """Per market: candle updates, last frame time and newest open time, under the shared names."""
        async with self.run(source_spec, feed) as run:
            await run.closed_after(0, 2, timeout=self.candle_timeout)
            seen = {c.market for c in run.candles}
            for coin, interval in run.source.markets():
                if (coin, interval) not in seen:
                    continue
                labels = {"source": run.name, "coin": coin, "interval": interval}
                assert run.metric(names.CANDLES_IN, **labels) >= 1, f"{names.CANDLES_IN}{labels} not counted"
                assert run.metric(names.LAST_FRAME, **labels) > 0, f"{names.LAST_FRAME}{labels} not set"
                newest = max(c.open_time for c in run.candles if c.market == (coin, interval)) / 1000
                got = run.metric(names.LAST_CANDLE, coin=coin, interval=interval)
                assert got >= newest, f"{names.LAST_CANDLE}{{coin={coin!r}}} is {got}, newest open time {newest}"
            assert seen & set(run.source.markets()), f"markets() {run.source.markets()} names none of {seen}"
