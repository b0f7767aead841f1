"""The built-in control methods (everything but the per-connection ``subscribe``/``unsubscribe``).

:class:`BuiltinMethods` has one coroutine per method, marked with
:func:`~candlewick.control.dispatch.rpc`; a method with parameters takes its ``*Params``
struct, decoded and checked before the call (a bad one is ``INVALID_PARAMS`` naming the
parameter and what it allows). Beyond that a method raises ``LookupError``
(-> ``NOT_FOUND``), ``ValueError`` (-> ``INVALID_PARAMS``) or an :class:`RpcError` with an
application code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

import anyio
import anyio.lowlevel
from msgspec import Meta

from candlewick.control import protocol as p
from candlewick.control.dispatch import rpc
from candlewick.control.methods import ControlHost
from candlewick.control.params import NonEmpty, Params
from candlewick.control.schema import Health, Stats, Status
from candlewick.control.server_connection import TOPICS
from candlewick.control.views import health_view, markets_view, stats_view, status_view
from candlewick.model import INTERVALS, Candle
from candlewick.plugin import Component, Sink, Source, SupportsBackfill
from candlewick.reading import CandleReader
from candlewick.runtime.policy import ChildState

__all__ = [
    "CONTROL_SERVICE",
    "MAX_RECENT",
    "BackfillCancelParams",
    "BackfillStartParams",
    "BuiltinMethods",
    "CandlesRecentParams",
    "ComponentParams",
    "EventsRecentParams",
    "HelloParams",
    "MarketParams",
    "ShutdownParams",
]

#: Name of the control server's own component (it refuses to stop or restart itself).
CONTROL_SERVICE: Final = "control"
#: Most candles ``candles.recent`` returns at once.
MAX_RECENT: Final = 5000
DEFAULT_RECENT: Final = 100
MAX_EVENTS: Final = 500
NO_BACKFILL_MESSAGE: Final = "no backfill service is running"
#: Scheduler passes ``component.start`` waits for the child's task to begin.
START_TICKS: Final = 10


# -- params ----------------------------------------------------------------------------------

_INTERVAL_LIST: Final = ", ".join(INTERVALS)
Interval = Annotated[str, Meta(pattern=f"^({'|'.join(INTERVALS)})$", description=f"one of {_INTERVAL_LIST}")]


class HelloParams(Params):
    """``hello``: the client's protocol version (another major is ``PROTOCOL_MISMATCH``)."""

    protocol: object = None
    client: object = None


class ComponentParams(Params):
    """``component.restart`` / ``.stop`` / ``.start``."""

    name: Annotated[str, Meta(min_length=1, description="the name of a component, as status lists them")]


class MarketParams(Params):
    """``markets.add`` / ``.remove``; ``source`` may be left out when one source runs."""

    coin: NonEmpty
    interval: Interval
    source: NonEmpty | None = None


class BackfillStartParams(Params):
    """``backfill.start``: ``intervals`` as a list or a comma-separated string."""

    coin: NonEmpty
    intervals: Annotated[
        Annotated[list[Interval], Meta(min_length=1)] | str,
        Meta(description=f'a non-empty list of intervals ({_INTERVAL_LIST}), e.g. ["1m", "1h"]'),
    ]
    days: Annotated[Annotated[int, Meta(gt=0)] | Literal["max"], Meta(description='a positive integer or "max"')] = (
        "max"
    )

    def __post_init__(self) -> None:
        listed = self.interval_list
        if not listed or not set(listed) <= set(INTERVALS):
            raise self.invalid("intervals")

    @property
    def interval_list(self) -> list[str]:
        if isinstance(self.intervals, str):
            return [part.strip() for part in self.intervals.split(",") if part.strip()]
        return list(self.intervals)

    @property
    def days_back(self) -> int | None:
        """Days of history wanted; ``None`` for all the exchange has."""
        return None if self.days == "max" else self.days


class BackfillCancelParams(Params):
    """``backfill.cancel``: a job id (a number is taken as its string)."""

    id: Annotated[NonEmpty | int, Meta(description="a job id from backfill.list")]


class CandlesRecentParams(Params):
    """``candles.recent``: the newest ``limit`` candles of one market, from the sink."""

    coin: NonEmpty
    interval: Interval
    limit: Annotated[int, Meta(ge=1, le=MAX_RECENT)] = DEFAULT_RECENT


class EventsRecentParams(Params):
    """``events.recent``: the newest ``limit`` events."""

    limit: Annotated[int, Meta(ge=1, le=MAX_EVENTS)] = 100


class ShutdownParams(Params):
    """``shutdown``: a reason for the log (anything but a non-empty string is ignored)."""

    reason: object = None


def _candle_json(c: Candle) -> dict[str, Any]:
    return {
        "time": c.open_time,
        "close_time": c.close_time,
        "open": c.open,
        "high": c.high,
        "low": c.low,
        "close": c.close,
        "volume": c.volume,
        "trades": c.trades,
        "closed": c.closed,
        "derived": c.derived,
    }


# -- the methods -----------------------------------------------------------------------------


class BuiltinMethods:
    """The built-in methods of the daemon ``host``; ``method_names`` lists every method for ``hello``."""

    def __init__(
        self, host: ControlHost, *, socket: str | None = None, method_names: Callable[[], list[str]] = list
    ) -> None:
        self.host = host
        self.socket = socket
        self.method_names = method_names

    @rpc("hello", inline=True)
    async def hello(self, params: HelloParams) -> dict[str, Any]:
        theirs = params.protocol
        if theirs is not None:
            try:
                major = p.parse_version(theirs)[0]
            except ValueError as exc:
                raise p.RpcError(p.PROTOCOL_MISMATCH, str(exc)) from None
            if major != p.parse_version(p.PROTOCOL_VERSION)[0]:
                raise p.RpcError(
                    p.PROTOCOL_MISMATCH,
                    f"this daemon speaks control protocol {p.PROTOCOL_VERSION}, the client {theirs}",
                    {"protocol": p.PROTOCOL_VERSION, "daemon": self.host.version},
                )
        return {
            "protocol": p.PROTOCOL_VERSION,
            "daemon": self.host.version,
            "pid": self.host.pid,
            "methods": self.method_names(),
            "topics": list(TOPICS),
            "backend": self.host.backend,
        }

    @rpc("health", inline=True)
    async def health(self) -> Health:
        return health_view(self.host)

    @rpc("status", inline=True)
    async def status(self) -> Status:
        return status_view(self.host, socket=self.socket)

    @rpc("stats", inline=True)
    async def stats(self) -> Stats:
        return stats_view(self.host)

    # -- components --------------------------------------------------------------------------

    def _child_name(self, params: ComponentParams, verb: str) -> str:
        self.host.supervisor.child(params.name)  # LookupError lists the components
        if params.name == CONTROL_SERVICE:
            raise p.RpcError(
                p.UNSUPPORTED,
                f"the control server cannot {verb} itself over the control socket",
                {"hint": "use shutdown, or restart the daemon"},
            )
        return params.name

    @rpc("component.restart")
    async def component_restart(self, params: ComponentParams) -> dict[str, Any]:
        name = self._child_name(params, "restart")
        await self.host.supervisor.restart(name)
        return self.host.supervisor.child(name).status()

    @rpc("component.stop")
    async def component_stop(self, params: ComponentParams) -> dict[str, Any]:
        name = self._child_name(params, "stop")
        await self.host.supervisor.stop(name)
        return self.host.supervisor.child(name).status()

    @rpc("component.start")
    async def component_start(self, params: ComponentParams) -> dict[str, Any]:
        name = self._child_name(params, "start")
        child = self.host.supervisor.child(name)
        self.host.supervisor.start(name)
        for _ in range(START_TICKS):  # let the new task begin, so the answer shows it starting
            if child.state not in (ChildState.STOPPED, ChildState.FAILED):
                break
            await anyio.lowlevel.checkpoint()
        return child.status()

    # -- markets -----------------------------------------------------------------------------

    def _source(self, name: str | None) -> Source:
        sources = {n: c for n, c in self.host.components.items() if isinstance(c, Source)}
        if name is not None:
            if name not in sources:
                raise LookupError(f"no source named {name!r} (sources: {', '.join(sources) or 'none'})")
            return sources[name]
        if len(sources) == 1:
            return next(iter(sources.values()))
        if not sources:
            raise LookupError("no source is configured")
        raise ValueError(f"several sources run ({', '.join(sources)}); name one with source=")

    @rpc("markets.list", inline=True)
    async def markets_list(self) -> dict[str, Any]:
        """Every market followed; ``universe`` (when a source has one): what its market sets resolve to now."""
        universe = {}
        for name, component in self.host.components.items():
            if isinstance(component, Source):
                described = component.describe().get("universe")
                if described:
                    universe[name] = described
        result: dict[str, Any] = {"markets": markets_view(self.host)}
        if universe:
            result["universe"] = universe
        return result

    @rpc("markets.add")
    async def markets_add(self, params: MarketParams) -> dict[str, Any]:
        source = self._source(params.source)
        await source.add_market(params.coin, params.interval)
        market = {"source": source.name, "coin": params.coin, "interval": params.interval}
        return {"added": market, "markets": markets_view(self.host)}

    @rpc("markets.remove")
    async def markets_remove(self, params: MarketParams) -> dict[str, Any]:
        source = self._source(params.source)
        if (params.coin, params.interval) not in source.markets():
            raise LookupError(f"source {source.name!r} does not follow {params.coin} {params.interval}")
        await source.remove_market(params.coin, params.interval)
        market = {"source": source.name, "coin": params.coin, "interval": params.interval}
        return {"removed": market, "markets": markets_view(self.host)}

    # -- backfill ----------------------------------------------------------------------------

    def _backfill(self) -> SupportsBackfill:
        for component in self.host.components.values():
            if isinstance(component, SupportsBackfill):
                return component
        raise p.RpcError(
            p.NO_BACKFILL,
            NO_BACKFILL_MESSAGE,
            {"hint": "enable a source that runs backfills (e.g. [sources.hyperliquid]) and restart the daemon"},
        )

    @rpc("backfill.start")
    async def backfill_start(self, params: BackfillStartParams) -> dict[str, Any]:
        service = self._backfill()
        return {"jobs": await service.backfill_start(params.coin, params.interval_list, params.days_back)}

    @rpc("backfill.list")
    async def backfill_list(self) -> dict[str, Any]:
        return {"jobs": self._backfill().backfill_list()}

    @rpc("backfill.cancel")
    async def backfill_cancel(self, params: BackfillCancelParams) -> dict[str, Any]:
        service = self._backfill()
        return {"job": await service.backfill_cancel(str(params.id))}

    # -- candles, events, shutdown -----------------------------------------------------------

    def _reader(self) -> CandleReader:
        """The configured sink's read side; it answers while the sink's writer is down or reconnecting."""
        wanted = self.host.settings.sink.use
        component: Component | None = self.host.components.get(wanted)
        if not isinstance(component, Sink):
            raise p.RpcError(p.SINK_UNAVAILABLE, f"the sink {wanted!r} is not running")
        try:
            return component.reader()
        except NotImplementedError as exc:
            raise p.RpcError(p.SINK_UNAVAILABLE, str(exc)) from None

    @rpc("candles.recent")
    async def candles_recent(self, params: CandlesRecentParams) -> dict[str, Any]:
        candles = await self._reader().newest(params.coin, params.interval, params.limit)
        return {"candles": [_candle_json(c) for c in candles]}

    @rpc("events.recent", inline=True)
    async def events_recent(self, params: EventsRecentParams) -> dict[str, Any]:
        return {"events": [e.to_json() for e in self.host.telemetry.events.recent(params.limit)]}

    @rpc("shutdown")
    async def shutdown(self, params: ShutdownParams) -> dict[str, Any]:
        reason = params.reason
        self.host.request_shutdown(
            f"control socket: {reason}" if isinstance(reason, str) and reason else "control socket"
        )
        return {"ok": True}
