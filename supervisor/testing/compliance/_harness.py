"""Building and running one component the way the daemon does, for the compliance suites.

Free of pytest: a failed expectation raises :class:`AssertionError` with a message that says
what the plugin did and what was expected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream

from candlewick.config import Settings, validate_section
from candlewick.model import Candle
from candlewick.plugin import CandleOutlet, Component, ComponentContext, ComponentLookup, ComponentSpec, Kind
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.telemetry import Telemetry

__all__ = ["Running", "build_component", "eventually", "eventually_async", "load_spec", "running", "single_errors"]

#: Section names of each kind in ``candlewick.toml`` (for messages and config errors).
SECTION = {"source": "sources", "sink": "sink", "buffer": "buffer", "service": "service"}


def load_spec(plugin: str, kind: Kind, name: str) -> ComponentSpec:
    """The spec ``plugin`` registers for the ``kind`` named ``name``, loaded through its entry point."""
    hooks = build_plugin_manager()
    info = hooks.infos.get(plugin)
    if info is None:
        have = ", ".join(sorted(hooks.infos)) or "none"
        raise AssertionError(
            f"no plugin named {plugin!r} in the 'candlewick' entry-point group (installed: {have}); declare "
            f'[project.entry-points.candlewick] {plugin} = "<your_package>.plugin" in pyproject.toml and pip install it'
        )
    if info.error:
        raise AssertionError(info.error)
    for spec in info.components:
        if spec.kind == kind and spec.name == name:
            return spec
    have = ", ".join(f"{s.kind} {s.name!r}" for s in info.components) or "nothing"
    raise AssertionError(f"plugin {plugin!r} registers no {kind} named {name!r}; it registers {have}")


def build_component(
    spec: ComponentSpec,
    options: Mapping[str, Any],
    *,
    clock: Clock | None = None,
    telemetry: Telemetry | None = None,
    settings: Settings | None = None,
    candles: CandleOutlet | None = None,
    inbox: MemoryObjectReceiveStream[Candle] | None = None,
    lookup: ComponentLookup | None = None,
    data_dir: Path | None = None,
) -> Component:
    """Validate ``options`` with the spec's model and build the component, as the daemon does."""
    key = f"{SECTION[spec.kind]}.{spec.name}"
    if spec.config_model is not None:
        config: Any = validate_section(spec.config_model, options, prefix=key)
    else:
        config = dict(options)
    clock = clock or SystemClock()
    if candles is None:
        send, receive = anyio.create_memory_object_stream[Candle](1)
        send.close()
        receive.close()
        candles = CandleOutlet(send)
    ctx = ComponentContext(
        name=spec.name,
        config=config,
        settings=settings or Settings(sources={}),
        telemetry=telemetry or Telemetry(clock),
        clock=clock,
        log=logging.LoggerAdapter(logging.getLogger(f"candlewick.component.{spec.name}"), {"component": spec.name}),
        candles=candles,
        inbox=inbox,
        lookup=lookup,
        data_dir=data_dir or Path.cwd(),
    )
    component = spec.factory(ctx)
    if not isinstance(component, Component) or component.kind != spec.kind:
        raise AssertionError(
            f"the factory of {spec.kind} {spec.name!r} built {type(component).__name__}; "
            f"expected a subclass of candlewick.plugin.{spec.kind.capitalize()}"
        )
    return component


@dataclass
class Running:
    """A component running in a task group: whether it crashed, and how long it took to stop."""

    component: Component
    error: BaseException | None = None
    returned: bool = False
    stop_seconds: float | None = None
    done: anyio.Event = field(default_factory=anyio.Event)

    def check_alive(self, what: str) -> None:
        """Fail if the component crashed or returned while it should still be running."""
        if self.error is not None:
            raise AssertionError(
                f"{self.component.kind} {self.component.name!r} crashed {what}: "
                f"{type(self.error).__name__}: {self.error}"
            ) from self.error
        if self.returned:
            raise AssertionError(f"{self.component.kind} {self.component.name!r} returned from run() {what}")


@contextmanager
def single_errors() -> Iterator[None]:
    """Re-raise the one error a task group wrapped, so a failed check reads as itself."""
    try:
        yield
    except BaseExceptionGroup as group:
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if leaf is group:
            raise
        raise leaf from None


@asynccontextmanager
async def running(component: Component, *, start_timeout: float = 10.0) -> AsyncIterator[Running]:
    """Run ``component`` until the block ends, then cancel it and time how long it takes to stop."""
    state = Running(component)

    async def supervise(*, task_status: TaskStatus[None]) -> None:
        try:
            await component.run(task_status=task_status)
            state.returned = True
        except Exception as exc:
            state.error = exc
        finally:
            state.done.set()

    with single_errors():
        async with anyio.create_task_group() as tg:
            try:
                with anyio.fail_after(start_timeout):
                    await tg.start(supervise)
            except TimeoutError:
                raise AssertionError(
                    f"{component.kind} {component.name!r} did not call task_status.started() within {start_timeout:g}s"
                ) from None
            except RuntimeError:  # run() ended before calling started()
                state.check_alive("while starting")
                raise
            try:
                yield state
            finally:
                began = time.monotonic()
                tg.cancel_scope.cancel()
                with anyio.CancelScope(shield=True), anyio.move_on_after(60):
                    await state.done.wait()
                state.stop_seconds = time.monotonic() - began


async def eventually(check: Callable[[], object], what: str, *, timeout: float = 10.0, step: float = 0.02) -> None:
    """Poll ``check()`` until it is true; fail naming ``what`` after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {timeout:g}s)")
        await anyio.sleep(step)


async def eventually_async(
    check: Callable[[], Awaitable[object]], what: str, *, timeout: float = 10.0, step: float = 0.05
) -> None:
    """:func:`eventually` for a check that must await (a read from the store)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} (waited {timeout:g}s)")
        await anyio.sleep(step)
