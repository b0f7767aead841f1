"""The buffer compliance suite: ``[buffer] use`` may name a third party's buffer, so it is checked too.

Subclass :class:`BufferSuite` and name your plugin; the suite puts a recording sink behind it::

    class TestMyBuffer(BufferSuite):
        plugin = "mybuffer"

        @pytest.fixture
        def buffer_options(self):
            return {"flush_interval": 0.05}
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest
from anyio.streams.memory import MemoryObjectSendStream

from candlewick.config import Settings
from candlewick.errors import SinkUnavailable
from candlewick.model import Candle
from candlewick.plugin import Buffer, Component, ComponentContext, ComponentSpec
from candlewick.runtime.telemetry import Telemetry
from candlewick.testing.compliance._harness import (
    Running,
    build_component,
    eventually,
    load_spec,
    running,
    single_errors,
)
from candlewick.testing.compliance._sinks import bad_version, sample
from candlewick.testing.components import MemorySink

__all__ = ["CHECKS", "BufferSuite", "RecordingSink"]

#: Checks a buffer may declare not applicable.
CHECKS = ("sink_outage", "bad_row")


class RecordingSink(MemorySink):
    """A :class:`MemorySink` that can be unavailable, refuse some candles, and records every batch."""

    def __init__(self, ctx: ComponentContext[Any]) -> None:
        super().__init__(ctx)
        self.available = True
        self.refuse: Callable[[Candle], bool] = lambda c: False
        self.batches: list[list[Candle]] = []

    async def write(self, batch: Sequence[Candle]) -> None:
        if not self.available:
            raise SinkUnavailable(f"{self.name}: away (compliance suite)")
        bad = [c for c in batch if self.refuse(c)]
        if bad:
            raise ValueError(f"{self.name}: refuses {bad[0].key} (compliance suite)")
        self.batches.append(list(batch))
        await super().write(batch)


@dataclass
class BufferRun:
    buffer: Buffer
    sink: RecordingSink
    inbox: MemoryObjectSendStream[Candle]
    state: Running

    def stored(self) -> list[Candle]:
        return sorted(self.sink.rows.values(), key=lambda c: (c.coin, c.interval, c.open_time))


def finals(candles: Sequence[Candle]) -> list[Candle]:
    """The version of each candle a store should end with."""
    best: dict[tuple[str, str, int], Candle] = {}
    for c in candles:
        if c.key not in best or c.supersedes(best[c.key]):
            best[c.key] = c
    return sorted(best.values(), key=lambda c: (c.coin, c.interval, c.open_time))


@pytest.mark.anyio
class BufferSuite:
    plugin: ClassVar[str] = ""
    component: ClassVar[str] = ""
    not_applicable: ClassVar[Mapping[str, str]] = {}
    start_timeout: ClassVar[float] = 10.0
    #: Seconds the buffer may take to write out what it holds once its input ends.
    drain_deadline: ClassVar[float] = 10.0

    @pytest.fixture
    def buffer_spec(self) -> ComponentSpec:
        if not self.plugin:
            pytest.fail(f"{type(self).__name__}: set plugin = '<entry-point name>' (or override buffer_spec)")
        return load_spec(self.plugin, "buffer", self.component or self.plugin)

    @pytest.fixture
    def buffer_options(self) -> dict[str, Any]:
        return {}

    def applies(self, check: str) -> None:
        reason = self.not_applicable.get(check)
        if reason is not None:
            pytest.skip(f"not applicable to {self.plugin or self.component}: {reason}")

    @asynccontextmanager
    async def run(self, spec: ComponentSpec, options: Mapping[str, Any], data: Path) -> AsyncIterator[BufferRun]:
        telemetry = Telemetry()
        sink = build_component(ComponentSpec("recording", "sink", RecordingSink), {}, telemetry=telemetry)
        assert isinstance(sink, RecordingSink)
        table: dict[str, Component] = {sink.name: sink}
        settings = Settings.model_validate({"sources": {}, "sink": {"use": sink.name}, "daemon": {"data_dir": data}})
        send, receive = anyio.create_memory_object_stream[Candle](1000)
        buffer = build_component(
            spec, options, telemetry=telemetry, settings=settings, inbox=receive,
            lookup=lambda name: table[name], data_dir=data,
        )  # fmt: skip
        assert isinstance(buffer, Buffer), f"{spec.name!r} built a {type(buffer).__name__}, not a Buffer"
        table[buffer.name] = buffer
        with send, receive, single_errors():
            async with running(sink), running(buffer, start_timeout=self.start_timeout) as state:
                yield BufferRun(buffer, sink, send, state)

    async def drain(self, run: BufferRun) -> None:
        """End the input, as the daemon does once every source stopped; the buffer must write out and return."""
        run.inbox.close()
        with anyio.move_on_after(self.drain_deadline):
            await run.state.done.wait()
        if run.state.error is not None:
            run.state.check_alive("while draining")
        assert run.state.returned, f"buffer did not return within {self.drain_deadline:g}s of its input ending"

    def test_not_applicable_names_known_checks_with_reasons(self) -> None:
        for check, reason in self.not_applicable.items():
            assert check in CHECKS, f"not_applicable names {check!r}; the checks are {', '.join(CHECKS)}"
            assert reason.strip(), f"not_applicable[{check!r}] gives no reason"

    async def test_delivers_the_final_version_of_every_candle_and_drains(
        self, buffer_spec: ComponentSpec, buffer_options: dict[str, Any], tmp_path: Path
    ) -> None:
        """Updates in, the superseding version of each candle out; all of it written when the input ends."""
        sent = [sample(i % 50, trades=1 + i // 50, closed=i >= 250) for i in range(300)]
        async with self.run(buffer_spec, buffer_options, tmp_path) as run:
            for c in sent:
                await run.inbox.send(c)
            assert run.buffer.depth() >= 0
            await self.drain(run)
            assert run.stored() == finals(sent)

    async def test_sink_away_and_back_loses_nothing(
        self, buffer_spec: ComponentSpec, buffer_options: dict[str, Any], tmp_path: Path
    ) -> None:
        """While the sink raises SinkUnavailable the buffer keeps the candles, and writes them once it is back."""
        self.applies("sink_outage")
        sent = [sample(i, closed=True) for i in range(40)]
        async with self.run(buffer_spec, buffer_options, tmp_path) as run:
            run.sink.available = False
            for c in sent[:20]:
                await run.inbox.send(c)
            await anyio.sleep(0.3)
            run.state.check_alive("while the sink was away")
            run.sink.available = True
            for c in sent[20:]:
                await run.inbox.send(c)
            await eventually(lambda: len(run.sink.rows) == len(sent), "every candle written once the sink is back")
            await self.drain(run)
            assert run.stored() == finals(sent)

    async def test_a_candle_the_sink_refuses_holds_up_nothing_else(
        self, buffer_spec: ComponentSpec, buffer_options: dict[str, Any], tmp_path: Path
    ) -> None:
        """A candle the sink refuses for good is set aside; the buffer keeps running and delivers the rest."""
        self.applies("bad_row")
        bad = bad_version(sample(5, closed=True))
        sent = [sample(i, closed=True) for i in range(10) if i != 5]
        async with self.run(buffer_spec, buffer_options, tmp_path) as run:
            run.sink.refuse = lambda c: c.volume == bad.volume
            for c in [*sent[:5], bad, *sent[5:]]:
                await run.inbox.send(c)
            await eventually(lambda: len(run.sink.rows) == len(sent), "the other candles written", timeout=20)
            await self.drain(run)
            assert run.stored() == finals(sent)
