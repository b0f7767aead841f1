"""The sink compliance suite: the upsert rule, refusals, outages and crashes, and reading back.

Subclass :class:`SinkSuite`, name your plugin and give options for a fresh, empty store::

    import pytest
    from candlewick.testing.compliance import SinkSuite

    class TestMySink(SinkSuite):
        plugin = "mysink"                      # the entry-point name in pyproject.toml
        not_applicable = {"outage": "an in-memory store cannot go away"}

        @pytest.fixture
        def sink_options(self, tmp_path):
            return {"path": str(tmp_path / "candles.db")}

For the ``outage`` check, return a :class:`StoreOutage` from the ``outage`` fixture: it takes
the store away (a lock, a terminated connection) and brings it back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from pydantic import BaseModel

from candlewick.errors import SinkUnavailable
from candlewick.plugin import ComponentSpec, Sink
from candlewick.runtime import names
from candlewick.testing.compliance._harness import build_component, eventually_async, load_spec, running
from candlewick.testing.compliance._sinks import (
    StoreOutage,
    bad_version,
    check_reader,
    kill_mid_write,
    rejected_files,
    sample,
    write_through_buffer,
)

__all__ = ["CHECKS", "SinkStructure", "SinkSuite", "StoreOutage"]

#: Checks a sink may declare not applicable (``not_applicable = {check: reason}``).
CHECKS = ("outage", "bad_row")


@pytest.mark.anyio
class SinkStructure:
    """Registration, start and stop, and refusing writes before it runs."""

    plugin: ClassVar[str] = ""
    #: The sink's component name; default: ``plugin``.
    component: ClassVar[str] = ""
    not_applicable: ClassVar[Mapping[str, str]] = {}
    start_timeout: ClassVar[float] = 15.0
    shutdown_deadline: ClassVar[float] = 5.0

    @pytest.fixture
    def sink_spec(self, anyio_backend: Any) -> ComponentSpec:
        """The spec under test, loaded through the plugin's entry point; skipped on a backend it declines."""
        if not self.plugin:
            pytest.fail(f"{type(self).__name__}: set plugin = '<entry-point name>' (or override sink_spec)")
        spec = load_spec(self.plugin, "sink", self.component or self.plugin)
        backend = anyio_backend if isinstance(anyio_backend, str) else anyio_backend[0]
        if backend not in spec.backends:
            pytest.skip(f"not applicable: {spec.name!r} runs on {', '.join(sorted(spec.backends))} only")
        return spec

    @pytest.fixture
    def sink_options(self) -> dict[str, Any]:
        """Options for a fresh, empty store (override: a tmp file, a new database)."""
        return {}

    def build(self, spec: ComponentSpec, options: Mapping[str, Any]) -> Sink:
        sink = build_component(spec, options)
        assert isinstance(sink, Sink), f"{spec.name!r} built a {type(sink).__name__}, not a candlewick.plugin.Sink"
        return sink

    @asynccontextmanager
    async def run(self, spec: ComponentSpec, options: Mapping[str, Any]) -> AsyncIterator[Sink]:
        sink = self.build(spec, options)
        async with running(sink, start_timeout=self.start_timeout) as state:
            yield sink
            state.check_alive("while the suite used it")

    def applies(self, check: str) -> None:
        reason = self.not_applicable.get(check)
        if reason is not None:
            pytest.skip(f"not applicable to {self.plugin or self.component}: {reason}")

    def test_not_applicable_names_known_checks_with_reasons(self) -> None:
        for check, reason in self.not_applicable.items():
            assert check in CHECKS, f"not_applicable names {check!r}; the checks are {', '.join(CHECKS)}"
            assert reason.strip(), f"not_applicable[{check!r}] gives no reason"

    async def test_spec_and_identity(self, sink_spec: ComponentSpec, sink_options: dict[str, Any]) -> None:
        """A sink spec with a pydantic model; target() names the store, state_key() derives from it."""
        assert sink_spec.kind == "sink"
        model = sink_spec.config_model
        assert model is None or issubclass(model, BaseModel), "config_model must be a pydantic BaseModel subclass"
        sink = self.build(sink_spec, sink_options)
        assert isinstance(sink.target(), str), "target() must return a string"
        assert sink.state_key().startswith(f"{sink.name}-"), "state_key() must keep its documented shape"
        assert all(isinstance(p, Path) for p in sink.writes()), "writes() must list pathlib.Path objects"

    async def test_write_before_running_is_refused_as_unavailable(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any]
    ) -> None:
        """Before run() is ready, write() raises SinkUnavailable: the buffer keeps the batch."""
        with pytest.raises(SinkUnavailable):
            await self.build(sink_spec, sink_options).write([sample(0)])

    async def test_starts_and_stops_within_the_deadline(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any]
    ) -> None:
        sink = self.build(sink_spec, sink_options)
        async with running(sink, start_timeout=self.start_timeout) as state:
            await sink.write([sample(0)])
        assert state.stop_seconds is not None
        assert state.stop_seconds < self.shutdown_deadline, f"took {state.stop_seconds:.2f}s to stop once cancelled"


class SinkSuite(SinkStructure):
    """Every check: the structural ones and what the store does with the rows."""

    async def test_upsert_is_idempotent(self, sink_spec: ComponentSpec, sink_options: dict[str, Any]) -> None:
        """The same batch written twice stores each candle once, unchanged."""
        batch = [sample(i, trades=3, closed=i < 4) for i in range(6)]
        async with self.run(sink_spec, sink_options) as sink:
            await sink.write(batch)
            await sink.write(batch)
            assert await sink.recent("BTC", "1m", 100) == batch

    async def test_versions_move_forward_only(self, sink_spec: ComponentSpec, sink_options: dict[str, Any]) -> None:
        """More trades replace fewer; a stale version (fewer trades) does not; closed beats open."""
        async with self.run(sink_spec, sink_options) as sink:
            for trades in (5, 9, 7):
                await sink.write([sample(0, trades=trades)])
            assert await sink.recent("BTC", "1m", 1) == [sample(0, trades=9)]
            await sink.write([sample(0, trades=2, closed=True)])
            assert await sink.recent("BTC", "1m", 1) == [sample(0, trades=2, closed=True)]

    async def test_open_never_overwrites_closed(self, sink_spec: ComponentSpec, sink_options: dict[str, Any]) -> None:
        """Once closed, a row ignores open versions, even in one batch and with more trades."""
        closed = sample(0, trades=4, closed=True)
        async with self.run(sink_spec, sink_options) as sink:
            await sink.write([closed])
            await sink.write([sample(0, trades=99)])
            await sink.write([sample(0, trades=50), sample(0, trades=60)])
            assert await sink.recent("BTC", "1m", 1) == [closed]
            await sink.write([sample(1, trades=3, closed=True), sample(1, trades=80)])
            assert (await sink.recent("BTC", "1m", 1))[0].closed

    async def test_decimals_come_back_exactly(self, sink_spec: ComponentSpec, sink_options: dict[str, Any]) -> None:
        """Prices and volume are the same strings when read back, trailing zeros and all."""
        from dataclasses import replace

        c = replace(sample(0, closed=True), open="0.000012340", high="123456789.123456789", low="0.00000001",
                    close="1.10", volume="98765432109876.5432100", trades=123456)  # fmt: skip
        async with self.run(sink_spec, sink_options) as sink:
            await sink.write([c])
            assert await sink.recent("BTC", "1m", 1) == [c]

    async def test_reading_back_what_was_written(self, sink_spec: ComponentSpec, sink_options: dict[str, Any]) -> None:
        """recent() is the newest N of one market, oldest first; open_times() the closed ones in [start, end]."""
        async with self.run(sink_spec, sink_options) as sink:
            await sink.write([sample(i, closed=i != 4) for i in range(10)] + [sample(2, coin="ETH", closed=True)])
            got = await sink.recent("BTC", "1m", 3)
            assert got == [sample(i, closed=True) for i in (7, 8, 9)]
            assert await sink.recent("SOL", "1m", 3) == []
            times = await sink.open_times("BTC", "1m", sample(1).open_time, sample(5).open_time)
            assert times == [sample(i).open_time for i in (1, 2, 3, 5)]

    async def test_the_read_side_returns_what_was_written(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any]
    ) -> None:
        """reader(): keyset pages over [start, end), closed_only, newest, markets and day counts; the
        spec's offline reader (``candlewick export``) sees the same rows."""
        written = [sample(i, trades=2, closed=i != 9) for i in range(10)] + [sample(0, coin="ETH", closed=True)]
        start, end = sample(2).open_time, sample(9).open_time
        async with self.run(sink_spec, sink_options) as sink:
            await sink.write(written)
            await check_reader(sink.reader(), written, start, end)
            assert sink.reader().target() == sink.target(), "reader().target() must be the sink's target()"
            if sink_spec.reader is not None:
                offline = sink_spec.reader(build_component(sink_spec, sink_options).ctx.config)
                async with offline:
                    await check_reader(offline, written, start, end)
                    assert offline.target() == sink.target(), "the spec's reader names another target"

    async def test_a_bad_row_is_refused_with_its_whole_batch(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any]
    ) -> None:
        """A row the store cannot hold fails write() (not as SinkUnavailable) and stores nothing of the batch."""
        self.applies("bad_row")
        good = [sample(i, closed=True) for i in range(3)]
        async with self.run(sink_spec, sink_options) as sink:
            with pytest.raises(Exception) as info:  # noqa: PT011  (any error but SinkUnavailable)
                await sink.write([*good, bad_version(sample(3, closed=True))])
            assert not isinstance(info.value, SinkUnavailable), (
                "a bad row must not be reported as SinkUnavailable: the buffer would retry it forever"
            )
            assert await sink.recent("BTC", "1m", 10) == [], "a refused batch must leave nothing behind"

    async def test_only_the_bad_row_is_set_aside(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any], tmp_path: Path
    ) -> None:
        """Behind the memory buffer, a batch with one bad row stores the rest and sets aside that row."""
        self.applies("bad_row")
        good = [sample(i, closed=True) for i in range(5)]
        spool = tmp_path / "spool"
        async with write_through_buffer(sink_spec, sink_options, spool, start_timeout=self.start_timeout) as (
            sink, inbox,
        ):  # fmt: skip
            for c in [*good[:2], bad_version(sample(7, closed=True)), *good[2:]]:
                await inbox.send(c)

            async def settled() -> bool:
                return len(await sink.recent("BTC", "1m", 100)) >= len(good) and bool(rejected_files(spool))

            await eventually_async(settled, "the good rows stored and the bad one set aside", timeout=30)
            assert await sink.recent("BTC", "1m", 100) == good
        assert any("not-a-number" in p.read_text(errors="replace") for p in rejected_files(spool))

    async def test_store_away_and_back_loses_nothing(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any], outage: StoreOutage
    ) -> None:
        """Away: write() raises SinkUnavailable. Back: the same batch is taken, nothing before is lost."""
        self.applies("outage")
        if type(outage).take_away is StoreOutage.take_away:
            pytest.fail(
                "check 'outage': override the outage fixture with a StoreOutage that takes your store away "
                "and back, or declare not_applicable = {'outage': '<why it cannot apply>'}"
            )
        before = [sample(i, closed=True) for i in range(3)]
        during = [sample(i, closed=True) for i in range(3, 6)]
        async with self.run(sink_spec, sink_options) as sink:
            await sink.write(before)
            await outage.take_away()
            try:
                with anyio.fail_after(60), pytest.raises(SinkUnavailable):
                    await sink.write(during)
            finally:
                await outage.bring_back()

            async def retried() -> bool:
                try:
                    await sink.write(during)
                except SinkUnavailable:
                    return False
                return True

            await eventually_async(retried, "a write taken once the store is back", timeout=30)
            assert await sink.recent("BTC", "1m", 100) == before + during
            assert sink.ctx.telemetry.metrics.value(names.WRITE_ERRORS, sink=sink.name) >= 1

    @pytest.fixture
    def outage(self) -> StoreOutage:
        """How to take your store away and back (override, or declare ``outage`` not applicable)."""
        return StoreOutage()

    async def test_a_write_cut_short_is_all_or_nothing(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any]
    ) -> None:
        """A write cancelled at any point (the process dies before commit) leaves the whole batch or none."""
        batch = [sample(i, trades=7, closed=True) for i in range(2000)]
        for delay in (0.0, 0.001, 0.005, 0.02, 0.05):
            async with self.run(sink_spec, sink_options) as sink:
                with anyio.move_on_after(delay):
                    await sink.write(batch)
            async with self.run(sink_spec, sink_options) as sink:  # a fresh instance, as after a restart
                count = len(await sink.recent("BTC", "1m", 5000))
                assert count in (0, len(batch)), f"a write cut after {delay}s left {count} of {len(batch)} rows"
                await sink.write(batch)
                assert len(await sink.recent("BTC", "1m", 5000)) == len(batch)

    async def test_a_killed_writer_keeps_every_committed_batch_whole(
        self, sink_spec: ComponentSpec, sink_options: dict[str, Any]
    ) -> None:
        """A process killed (SIGKILL) mid-write: every batch it saw committed is stored, the one in
        flight wholly or not at all. Needs the plugin installed (the child loads it by entry point)."""
        if not self.plugin:
            pytest.fail(f"{type(self).__name__}: set plugin = '<entry-point name>'; the crash check loads it")
        size = 500
        committed = await kill_mid_write(self.plugin, sink_spec.name, sink_options, size)
        async with self.run(sink_spec, sink_options) as sink:
            stored = len(await sink.reader().open_times("BTC", "1m", 0, 10**15))
        assert stored % size == 0, f"a killed write left {stored % size} rows of a batch of {size}"
        assert (committed + 1) * size <= stored <= (committed + 2) * size, (
            f"{committed + 1} batches were committed before the kill, {stored // size} are stored"
        )

    async def test_writes_are_counted(self, sink_spec: ComponentSpec, sink_options: dict[str, Any]) -> None:
        """Rows written and the last write's latency, under the names the dashboard reads."""
        async with self.run(sink_spec, sink_options) as sink:
            await sink.write([sample(i) for i in range(7)])
            metrics = sink.ctx.telemetry.metrics
            assert metrics.value(names.ROWS_WRITTEN, sink=sink.name) == 7
            assert metrics.value(names.WRITE_LATENCY, sink=sink.name) > 0
