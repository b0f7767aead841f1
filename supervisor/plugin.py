"""Everything a plugin author imports: ``hookimpl``, the component ABCs and their context.

A plugin is a module registered under the ``candlewick`` entry-point group. In its
``pyproject.toml``::

    [project.entry-points.candlewick]
    ticker = "candlewick_ticker.plugin"

and in ``candlewick_ticker/plugin.py``::

    import anyio
    from candlewick.plugin import ComponentSpec, Source, hookimpl

    class TickerSource(Source):
        async def run(self, *, task_status=anyio.TASK_STATUS_IGNORED):
            task_status.started()
            while True:
                await self.ctx.candles.send(make_candle())   # backpressure: this may wait
                await self.ctx.clock.sleep(1)

    @hookimpl
    def candlewick_register_sources():
        return [ComponentSpec(name="ticker", kind="source", factory=TickerSource)]

Enable it with a ``[sources.ticker]`` section in ``candlewick.toml``. Give the spec a pydantic
``config_model`` and that section is validated by it and handed over as ``self.ctx.config``.
A source whose history can be fetched names its gap repair companion in
``ComponentSpec(companions=("ticker-backfill",))`` and registers that spec too (usually a
:class:`candlewick.gaps.component.GapRepair` around its own
:class:`~candlewick.gaps.history.History`); the daemon builds it beside the source.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Protocol, TypeVar, runtime_checkable

import anyio
import pluggy
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic import BaseModel

from candlewick.model import Candle
from candlewick.reading import CandleReader
from candlewick.runtime.clock import Clock
from candlewick.runtime.policy import RestartPolicy, RestartType
from candlewick.runtime.sourcestats import SourceStats
from candlewick.runtime.telemetry import Fanout, Telemetry

if TYPE_CHECKING:
    from candlewick.config import Settings

__all__ = [
    "ALL_BACKENDS",
    "Buffer",
    "CandleOutlet",
    "Component",
    "ComponentContext",
    "ComponentSpec",
    "Kind",
    "RestartPolicy",
    "RestartType",
    "Service",
    "Sink",
    "Source",
    "SourceStats",
    "SupportsBackfill",
    "hookimpl",
    "state_key",
]

PROJECT = "candlewick"
#: Marks a function as a candlewick hook implementation.
hookimpl = pluggy.HookimplMarker(PROJECT)

#: ``service`` is for the daemon's own children (control server, metrics), not plugins.
Kind = Literal["source", "buffer", "sink", "service"]
ALL_BACKENDS: frozenset[str] = frozenset({"asyncio", "trio"})

ConfigT = TypeVar("ConfigT")


class CandleOutlet:
    """Where sources put candles: the shared, bounded stream into the buffer.

    ``send`` waits while the buffer is full (backpressure); sources never close it, the
    runtime does once every source has stopped. Each candle taken is also offered to ``live``
    (the daemon's live feed, read by the web stream) when anyone subscribes to it.
    """

    def __init__(self, stream: MemoryObjectSendStream[Candle], live: Fanout[Candle] | None = None) -> None:
        self._stream = stream
        self._live = live

    async def send(self, candle: Candle) -> None:
        """Hand one candle to the buffer, waiting while it is full."""
        await self._stream.send(candle)
        if (offer := self._live_offer()) is not None:
            offer(candle)

    def send_nowait(self, candle: Candle) -> None:
        """Hand one candle over now; raises ``anyio.WouldBlock`` when the buffer is full."""
        self._stream.send_nowait(candle)
        if (offer := self._live_offer()) is not None:
            offer(candle)

    async def send_many(self, candles: Iterable[Candle]) -> None:
        """Hand candles over in order, waiting only while the buffer is full.

        ``send`` passes through the event loop for every candle; this does so only when the
        buffer is full: the hot path's way to hand over a socket read's worth of candles.
        """
        stream, send_nowait = self._stream, self._stream.send_nowait
        offer = self._live_offer()
        for candle in candles:
            try:
                send_nowait(candle)
            except anyio.WouldBlock:
                await stream.send(candle)
                offer = self._live_offer()  # a listener may have come meanwhile
            if offer is not None:
                offer(candle)

    def _live_offer(self) -> Callable[[Candle], None] | None:
        """The live feed's ``offer`` while anyone listens, else ``None``."""
        live = self._live
        return live.offer if live is not None and len(live) else None

    @property
    def pending(self) -> int:
        """Candles waiting in the stream."""
        return self._stream.statistics().current_buffer_used


class ComponentLookup(Protocol):
    def __call__(self, name: str) -> Component: ...


@dataclass
class ComponentContext(Generic[ConfigT]):
    """What the runtime hands a component: its config, telemetry, clock and data path."""

    name: str
    config: ConfigT
    settings: Settings
    telemetry: Telemetry
    clock: Clock
    log: logging.LoggerAdapter[logging.Logger]
    #: Sources send candles here.
    candles: CandleOutlet
    #: The buffer reads candles here; every other kind gets ``None``.
    inbox: MemoryObjectReceiveStream[Candle] | None = None
    #: Returns another running component by name (e.g. the buffer finds the sink).
    lookup: ComponentLookup | None = None
    #: Data directory for state files (spool, ledgers), created by the runtime.
    data_dir: Path = field(default_factory=Path.cwd)

    def component(self, name: str) -> Component:
        if self.lookup is None:
            raise LookupError(f"{self.name} cannot look up other components")
        return self.lookup(name)


class Component(ABC):
    """A supervised unit of work. The runtime calls :meth:`run` and restarts it by policy.

    ``run`` calls ``task_status.started()`` once it is ready (connected, listening), then
    works until cancelled. Raising means a crash (restarted with backoff); returning means
    the work is done (restarted only if the policy is ``permanent``).
    """

    kind: ClassVar[Kind]

    def __init__(self, ctx: ComponentContext[Any]) -> None:
        self.ctx = ctx

    @property
    def name(self) -> str:
        return self.ctx.name

    @abstractmethod
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Do the work until cancelled; call ``task_status.started()`` when ready."""

    def describe(self) -> dict[str, Any]:
        """Extra facts for ``status`` (e.g. the markets a source follows)."""
        return {}

    def writes(self) -> Sequence[Path]:
        """Directories and files this component writes (beside ``data_dir``).

        The daemon checks before anything starts that it can write them: one that it cannot
        is a configuration error, not a fault to retry.
        """
        return ()


class Source(Component):
    """Produces candles into ``ctx.candles``.

    A source that follows markets overrides :meth:`markets`, :meth:`add_market` and
    :meth:`remove_market`; the control socket's ``markets.*`` methods call them.
    """

    kind: ClassVar[Kind] = "source"

    def markets(self) -> list[tuple[str, str]]:
        """The (coin, interval) pairs this source follows now."""
        return []

    async def add_market(self, coin: str, interval: str) -> None:
        """Start following a market while running."""
        raise NotImplementedError(f"source {self.name!r} has a fixed set of markets")

    async def remove_market(self, coin: str, interval: str) -> None:
        """Stop following a market while running."""
        raise NotImplementedError(f"source {self.name!r} has a fixed set of markets")

    def feed_alive(self, coin: str, interval: str) -> bool:
        """True while the market's feed is known to be alive though quiet (its connection up and
        answering heartbeats), so a market without trades is not reported stale. Default: unknown."""
        return False


class Buffer(Component):
    """Reads candles from ``ctx.inbox`` and delivers them to the sink.

    When the inbox ends (every source stopped at shutdown) the buffer writes out what it
    holds and returns: that is the drain step of a graceful shutdown.
    """

    kind: ClassVar[Kind] = "buffer"

    def depth(self) -> int:
        """Candles held in memory, not yet written."""
        return 0

    def held_elsewhere(self) -> str | None:
        """Which other process holds this buffer's state on disk (it could not start), or None."""
        return None


def state_key(name: str, target: str) -> str:
    """``<name>-<12 hex digits of target>``: the key of state kept per sink and target (see :meth:`Sink.state_key`)."""
    return f"{name}-{hashlib.sha256(target.encode()).hexdigest()[:12]}"


class Sink(Component):
    """Stores candles. ``run`` keeps the connection healthy; the buffer calls :meth:`write`.

    Reads go through :meth:`reader` (a :class:`~candlewick.reading.CandleReader` on its own
    connection); ``recent`` and ``open_times`` are shortcuts to it.
    """

    kind: ClassVar[Kind] = "sink"

    @abstractmethod
    async def write(self, batch: Sequence[Candle]) -> None:
        """Upsert ``batch`` atomically; a closed row never becomes open again.

        Raise :class:`candlewick.errors.SinkUnavailable` when the store cannot take it now;
        the caller keeps the batch and retries.
        """

    def state_key(self) -> str:
        """``<name>-<12 hex digits of its target>``: names state kept per sink and target (spool, ledger)."""
        return state_key(self.name, self.target())

    def config_warnings(self, intervals: Collection[str]) -> list[str]:
        """Settings that work but will hurt, given the ``intervals`` the sources follow.

        ``check-config`` prints them and the daemon logs them at start.
        """
        return []

    def target(self) -> str:
        """Where this sink stores candles, without secrets (a database file; a server and database).

        State kept for one sink, such as the buffer's spool, is kept apart per target.
        """
        return self.name

    def reader(self) -> CandleReader:
        """This sink's read side: its own connection(s), working while the writer is down.

        Every read (``candles.recent``, gap detection, exports, the Python API) goes through
        it. A sink without one raises ``NotImplementedError``; the built-in sinks have one.
        """
        raise NotImplementedError(f"sink {self.name!r} has no read side (Sink.reader)")

    async def recent(self, coin: str, interval: str, limit: int) -> list[Candle]:
        """The newest ``limit`` candles of a market, oldest first (from :meth:`reader`)."""
        return await self.reader().newest(coin, interval, limit)

    async def open_times(self, coin: str, interval: str, start: int, end: int) -> list[int]:
        """Open times of the closed candles in ``[start, end]``, ascending (gap detection; from :meth:`reader`)."""
        return await self.reader().open_times(coin, interval, start, end)


@dataclass(frozen=True)
class ComponentSpec:
    """A factory a plugin contributes, with what the runtime needs to know about it."""

    name: str
    kind: Kind
    factory: Callable[[ComponentContext[Any]], Component]
    #: Pydantic model validating this component's config section (``None``: no options).
    config_model: type[BaseModel] | None = None
    #: Async backends this component runs on.
    backends: frozenset[str] = ALL_BACKENDS
    #: Restart policy used unless ``[restart.<name>]`` overrides it.
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    description: str = ""
    #: Sources the daemon builds beside this source whenever it is configured (gap repair and
    #: backfill jobs over the source's history, say), each with its own ``[sources.<companion>]``
    #: options when that table exists, else its defaults. Each is a source spec registered like
    #: any other. ``candlewick backfill --standalone`` runs the first one alone: it implements
    #: :class:`SupportsBackfill` and takes the options ``detect`` and ``keep_pending`` (as
    #: :class:`~candlewick.gaps.component.GapRepair` does).
    companions: tuple[str, ...] = ()
    #: A sink's read side built from its validated options alone, without running the daemon
    #: (``candlewick export``, the Python API): ``reader(config) -> CandleReader``.
    reader: Callable[[Any], CandleReader] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.backends) - ALL_BACKENDS
        if unknown:
            raise ValueError(f"component {self.name!r} declares unknown backends {sorted(unknown)}")
        companions: object = self.companions  # a plain string is a common slip
        if not isinstance(companions, tuple) or not all(isinstance(c, str) for c in companions):
            raise ValueError(f"component {self.name!r}: companions must be a tuple of source names")
        if self.companions and self.kind != "source":
            raise ValueError(f"component {self.name!r}: only a source has companions, not a {self.kind}")
        if self.reader is not None and self.kind != "sink":
            raise ValueError(f"component {self.name!r}: only a sink has a reader, not a {self.kind}")
        if self.name in self.companions:
            raise ValueError(f"component {self.name!r} names itself as its companion")


class Service(Component):
    """A child the daemon runs for itself (control socket, metrics endpoint)."""

    kind: ClassVar[Kind] = "service"


@runtime_checkable
class SupportsBackfill(Protocol):
    """A component that runs backfill jobs; the control socket's ``backfill.*`` methods use it.

    A job is a dict: ``id`` (str), ``kind`` (``"user"`` or ``"repair"``), ``coin``,
    ``interval``, ``start`` and ``end`` (open times, ms), ``state`` (``queued``, ``running``,
    ``done``, ``failed`` or ``cancelled``), ``fetched`` and ``expected`` (candles), ``eta``
    (seconds or None) and ``error`` (str or None).
    """

    async def backfill_start(self, coin: str, intervals: Sequence[str], days: int | None) -> list[dict[str, Any]]:
        """Queue one job per interval covering the last ``days`` days (``None``: all the exchange has).

        Raise ``ValueError`` for a bad coin or interval; returns the new jobs.
        """
        ...

    def backfill_list(self) -> list[dict[str, Any]]:
        """Every job, newest first (finished ones kept for a while)."""
        ...

    async def backfill_cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a queued or running job and return it; raise ``LookupError`` for an unknown id."""
        ...
