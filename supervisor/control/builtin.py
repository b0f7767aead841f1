"""The built-in control methods (everything but the per-connection ``subscribe``/``unsubscribe``).

Each handler validates its params and raises ``ValueError`` (-> ``INVALID_PARAMS``),
``LookupError`` (-> ``NOT_FOUND``) or an :class:`RpcError` with an application code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import anyio
import anyio.lowlevel

from candlewick.control import protocol as p
from candlewick.control.methods import ControlHost, Handler
from candlewick.control.views import health_view, markets_view, stats_view, status_view
from candlewick.model import Candle, check_interval
from candlewick.plugin import Component, Sink, Source, SupportsBackfill
from candlewick.runtime.policy import ChildState

__all__ = ["CONTROL_SERVICE", "INLINE_METHODS", "MAX_RECENT", "builtin_methods"]

#: Methods that never wait: the server runs them in the connection's reader, saving a task
#: per request (the others run as tasks, so a slow one does not hold up the connection).
INLINE_METHODS: Final = frozenset({"hello", "health", "status", "stats", "markets.list", "events.recent"})

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


def _str(params: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise ValueError(f"missing parameter {key!r}")
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"parameter {key!r} must be a non-empty string, got {value!r}")
    return value


def _req(params: dict[str, Any], key: str) -> str:
    value = _str(params, key)
    assert value is not None
    return value


def _int(params: dict[str, Any], key: str, default: int, *, low: int, high: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"parameter {key!r} must be an integer from {low} to {high}, got {value!r}")
    return value


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
    }


# -- the methods -----------------------------------------------------------------------------


def builtin_methods(
    host: ControlHost, *, socket: str | None = None, method_names: Callable[[], list[str]] = list
) -> dict[str, Handler[Any]]:
    """The built-in handlers bound to ``host``; ``method_names`` lists every method for ``hello``."""

    async def hello(params: dict[str, Any]) -> dict[str, Any]:
        theirs = params.get("protocol")
        if theirs is not None:
            try:
                major = p.parse_version(theirs)[0]
            except ValueError as exc:
                raise p.RpcError(p.PROTOCOL_MISMATCH, str(exc)) from None
            if major != p.parse_version(p.PROTOCOL_VERSION)[0]:
                raise p.RpcError(
                    p.PROTOCOL_MISMATCH,
                    f"this daemon speaks control protocol {p.PROTOCOL_VERSION}, the client {theirs}",
                    {"protocol": p.PROTOCOL_VERSION, "daemon": host.version},
                )
        return {
            "protocol": p.PROTOCOL_VERSION,
            "daemon": host.version,
            "pid": host.pid,
            "methods": method_names(),
            "topics": ["events", "logs", "stats"],
            "backend": host.backend,
        }

    async def health(params: dict[str, Any]) -> dict[str, Any]:
        return health_view(host)

    async def status(params: dict[str, Any]) -> dict[str, Any]:
        return status_view(host, socket=socket)

    async def stats(params: dict[str, Any]) -> dict[str, Any]:
        return stats_view(host)

    # -- components --------------------------------------------------------------------------

    def _child_name(params: dict[str, Any], verb: str) -> str:
        name = _req(params, "name")
        host.supervisor.child(name)  # LookupError lists the components
        if name == CONTROL_SERVICE:
            raise p.RpcError(
                p.UNSUPPORTED,
                f"the control server cannot {verb} itself over the control socket",
                {"hint": "use shutdown, or restart the daemon"},
            )
        return name

    async def component_restart(params: dict[str, Any]) -> dict[str, Any]:
        name = _child_name(params, "restart")
        await host.supervisor.restart(name)
        return host.supervisor.child(name).status()

    async def component_stop(params: dict[str, Any]) -> dict[str, Any]:
        name = _child_name(params, "stop")
        await host.supervisor.stop(name)
        return host.supervisor.child(name).status()

    async def component_start(params: dict[str, Any]) -> dict[str, Any]:
        name = _child_name(params, "start")
        child = host.supervisor.child(name)
        host.supervisor.start(name)
        for _ in range(START_TICKS):  # let the new task begin, so the answer shows it starting
            if child.state not in (ChildState.STOPPED, ChildState.FAILED):
                break
            await anyio.lowlevel.checkpoint()
        return child.status()

    # -- markets -----------------------------------------------------------------------------

    def _source(params: dict[str, Any]) -> Source:
        name = _str(params, "source", required=False)
        sources = {n: c for n, c in host.components.items() if isinstance(c, Source)}
        if name is not None:
            if name not in sources:
                raise LookupError(f"no source named {name!r} (sources: {', '.join(sources) or 'none'})")
            return sources[name]
        if len(sources) == 1:
            return next(iter(sources.values()))
        if not sources:
            raise LookupError("no source is configured")
        raise ValueError(f"several sources run ({', '.join(sources)}); name one with source=")

    def _market(params: dict[str, Any]) -> tuple[Source, str, str]:
        coin = _req(params, "coin")
        interval = check_interval(_req(params, "interval"))
        return _source(params), coin, interval

    async def markets_list(params: dict[str, Any]) -> dict[str, Any]:
        return {"markets": markets_view(host)}

    async def markets_add(params: dict[str, Any]) -> dict[str, Any]:
        source, coin, interval = _market(params)
        await source.add_market(coin, interval)
        return {"added": {"source": source.name, "coin": coin, "interval": interval}, "markets": markets_view(host)}

    async def markets_remove(params: dict[str, Any]) -> dict[str, Any]:
        source, coin, interval = _market(params)
        if (coin, interval) not in source.markets():
            raise LookupError(f"source {source.name!r} does not follow {coin} {interval}")
        await source.remove_market(coin, interval)
        return {"removed": {"source": source.name, "coin": coin, "interval": interval}, "markets": markets_view(host)}

    # -- backfill ----------------------------------------------------------------------------

    def _backfill() -> SupportsBackfill:
        for component in host.components.values():
            if isinstance(component, SupportsBackfill):
                return component
        raise p.RpcError(
            p.NO_BACKFILL,
            NO_BACKFILL_MESSAGE,
            {"hint": "enable a source that runs backfills (e.g. [sources.hyperliquid]) and restart the daemon"},
        )

    async def backfill_start(params: dict[str, Any]) -> dict[str, Any]:
        service = _backfill()
        coin = _req(params, "coin")
        raw = params.get("intervals")
        if isinstance(raw, str):
            raw = [part.strip() for part in raw.split(",") if part.strip()]
        if not isinstance(raw, list) or not raw or not all(isinstance(i, str) for i in raw):
            raise ValueError('parameter \'intervals\' must be a non-empty list of intervals, e.g. ["1m", "1h"]')
        intervals = [check_interval(i) for i in raw]
        days_raw = params.get("days", "max")
        if days_raw == "max":
            days: int | None = None
        elif isinstance(days_raw, int) and not isinstance(days_raw, bool) and days_raw > 0:
            days = days_raw
        else:
            raise ValueError(f"parameter 'days' must be a positive integer or \"max\", got {days_raw!r}")
        return {"jobs": await service.backfill_start(coin, intervals, days)}

    async def backfill_list(params: dict[str, Any]) -> dict[str, Any]:
        return {"jobs": _backfill().backfill_list()}

    async def backfill_cancel(params: dict[str, Any]) -> dict[str, Any]:
        service = _backfill()
        job_id = params.get("id")
        if isinstance(job_id, int) and not isinstance(job_id, bool):
            job_id = str(job_id)
        if not isinstance(job_id, str) or not job_id:
            raise ValueError("missing parameter 'id' (a job id from backfill.list)")
        return {"job": await service.backfill_cancel(job_id)}

    # -- candles, events, shutdown -------------------------------------------------------------

    def _sink() -> Sink:
        wanted = host.settings.sink.use
        component: Component | None = host.components.get(wanted)
        if not isinstance(component, Sink):
            raise p.RpcError(p.SINK_UNAVAILABLE, f"the sink {wanted!r} is not running")
        return component

    async def candles_recent(params: dict[str, Any]) -> dict[str, Any]:
        coin = _req(params, "coin")
        interval = check_interval(_req(params, "interval"))
        limit = _int(params, "limit", DEFAULT_RECENT, low=1, high=MAX_RECENT)
        sink = _sink()
        child = host.supervisor.children.get(sink.name)
        if child is not None and not child.active:
            raise p.RpcError(p.SINK_UNAVAILABLE, f"the sink {sink.name!r} is {child.state}")
        candles = await sink.recent(coin, interval, limit)
        return {"candles": [_candle_json(c) for c in candles]}

    async def events_recent(params: dict[str, Any]) -> dict[str, Any]:
        limit = _int(params, "limit", 100, low=1, high=MAX_EVENTS)
        return {"events": [e.to_json() for e in host.telemetry.events.recent(limit)]}

    async def shutdown(params: dict[str, Any]) -> dict[str, Any]:
        reason = params.get("reason")
        host.request_shutdown(f"control socket: {reason}" if isinstance(reason, str) and reason else "control socket")
        return {"ok": True}

    return {
        "hello": hello,
        "health": health,
        "status": status,
        "stats": stats,
        "component.restart": component_restart,
        "component.stop": component_stop,
        "component.start": component_start,
        "markets.list": markets_list,
        "markets.add": markets_add,
        "markets.remove": markets_remove,
        "backfill.start": backfill_start,
        "backfill.list": backfill_list,
        "backfill.cancel": backfill_cancel,
        "candles.recent": candles_recent,
        "events.recent": events_recent,
        "shutdown": shutdown,
    }
