"""Views of the daemon for ``status``, ``stats`` and ``health``: read-only, no I/O.

Everything is read from the supervisor (component states) and the one telemetry registry
(counters and gauges named in :mod:`candlewick.runtime.names`); a value nobody produced yet
is 0 or ``None``. Results are the structs of :mod:`candlewick.control.schema`, encoded as
they are. Nothing here keeps state of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from candlewick.control.schema import (
    BufferStats,
    Check,
    ClockReading,
    DaemonInfo,
    GridMismatch,
    Health,
    MarketStats,
    RestStats,
    SinkStats,
    SpoolStats,
    Stats,
    Status,
    WsLimits,
)
from candlewick.plugin import Source
from candlewick.runtime import names
from candlewick.runtime.exchange_clock import OffsetEstimate
from candlewick.runtime.gridreport import format_time, mismatch_of
from candlewick.runtime.policy import ChildState

if TYPE_CHECKING:
    from candlewick.control.methods import ControlHost
    from candlewick.runtime.telemetry import Metrics

__all__ = ["NTP_ADVICE", "STALE_AFTER", "clock_view", "health_view", "markets_view", "stats_view", "status_view"]

#: A market without a frame for this long is stale (health ``degraded``).
STALE_AFTER: Final = 120.0
#: What to do about a local clock off the exchange's.
NTP_ADVICE: Final = (
    "fix NTP on the host (e.g. 'timedatectl set-ntp true'; Synology DSM: Control Panel > Regional Options > "
    "Time > Synchronize with NTP server)"
)

HEALTHY, DEGRADED, FAILING = "healthy", "degraded", "failing"
_OK_STATES = (ChildState.RUNNING, ChildState.STARTING)


# -- metric reading --------------------------------------------------------------------------


def _sum(metrics: Metrics, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels match ``labels`` (0 when absent).

    A family lacking one of the labels cannot be attributed and counts 0.
    """
    family = metrics.get(name)
    if family is None:
        return 0.0
    if not labels:
        return sum(family.samples().values())
    try:
        index = [(family.labelnames.index(k), v) for k, v in labels.items()]
    except ValueError:
        return 0.0
    return sum(value for key, value in family.samples().items() if all(key[i] == v for i, v in index))


def _latest(metrics: Metrics, name: str, **labels: str) -> float | None:
    """Largest matching sample (timestamps), ``None`` when there is none."""
    family = metrics.get(name)
    if family is None:
        return None
    try:
        index = [(family.labelnames.index(k), v) for k, v in labels.items()]
    except ValueError:
        return None
    found = [value for key, value in family.samples().items() if all(key[i] == v for i, v in index)]
    return max(found) if found else None


def _int(value: float) -> int:
    return int(value)


# -- markets ---------------------------------------------------------------------------------


def markets_view(host: ControlHost) -> list[dict[str, str]]:
    """Every market a running source follows: ``{source, coin, interval}``."""
    out: list[dict[str, str]] = []
    for name, component in host.components.items():
        if isinstance(component, Source):
            out.extend({"source": name, "coin": coin, "interval": iv} for coin, iv in component.markets())
    return out


def _by(m: Metrics, name: str, labels: tuple[str, ...], *, latest: bool = False) -> dict[tuple[str, ...], float]:
    """One pass over a family: samples summed (``latest``: the largest) per value of ``labels``.

    Per-market figures are looked up here instead of scanning every sample once per market,
    which at thousands of markets would take seconds of the event loop per call.
    """
    family = m.get(name)
    if family is None:
        return {}
    try:
        index = [family.labelnames.index(k) for k in labels]
    except ValueError:
        return {}
    out: dict[tuple[str, ...], float] = {}
    for key, value in family.samples().items():
        k = tuple(key[i] for i in index)
        seen = out.get(k)
        out[k] = value if seen is None else (max(seen, value) if latest else seen + value)
    return out


def _market_stats(host: ControlHost, now: float) -> list[MarketStats]:
    m = host.telemetry.metrics
    by_source = ("source", "coin", "interval")
    by_market = ("coin", "interval")
    candles_in = _by(m, names.CANDLES_IN, by_source)
    # A source counting frames per source only (Hyperliquid: one candle per frame) is shown with its candle updates.
    frames_in = _by(m, names.FRAMES, by_source)
    last_candles = _by(m, names.LAST_CANDLE, by_market, latest=True)
    last_frames = _by(m, names.LAST_FRAME, by_source, latest=True)
    today, found = _by(m, names.CANDLES_TODAY, by_market), _by(m, names.GAPS_FOUND, by_market)
    repaired, lost = _by(m, names.GAPS_REPAIRED, by_market), _by(m, names.PERMANENT_LOSSES, by_market)
    derived = _by(m, names.DERIVED, by_source, latest=True)
    checked, differed = _by(m, names.DERIVED_CHECKED, by_source), _by(m, names.DERIVED_MISMATCHES, by_source)
    rows = []
    for market in markets_view(host):
        source, coin, iv = market["source"], market["coin"], market["interval"]
        key, short = (source, coin, iv), (coin, iv)
        candles = candles_in.get(key, 0.0)
        last_candle = last_candles.get(short)
        last_frame = last_frames.get(key)
        rows.append(MarketStats(
            coin=coin,
            interval=iv,
            source=source,
            last_candle_time=int(last_candle * 1000) if last_candle is not None else None,
            last_frame_time=last_frame,
            lag=max(0.0, now - last_frame) if last_frame is not None else None,
            frames=_int(frames_in.get(key, 0.0) if frames_in else candles),
            candles=_int(candles),
            candles_today=_int(today.get(short, 0.0)),
            gaps_found=_int(found.get(short, 0.0)),
            gaps_repaired=_int(repaired.get(short, 0.0)),
            permanent_losses=_int(lost.get(short, 0.0)),
            grid_mismatch=_grid_mismatch(m, source, coin, iv),
            derived=bool(derived.get(key)),
            derived_checked=_int(checked.get(key, 0.0)),
            derived_mismatches=_int(differed.get(key, 0.0)),
        ))  # fmt: skip
    return rows


def _grid_mismatch(m: Metrics, source: str, coin: str, interval: str) -> GridMismatch | None:
    """The open times (ms) while the exchange's candles are off candlewick's grid."""
    found = mismatch_of(m, source, coin, interval)
    return None if found is None else GridMismatch(expected=found[0], seen=found[1])


# -- clock -----------------------------------------------------------------------------------


def _clock_offsets(host: ControlHost) -> list[ClockReading]:
    """Every measured offset of the local clock from an exchange's, most off first."""
    m = host.telemetry.metrics
    offsets = m.get(names.CLOCK_OFFSET)
    if offsets is None:
        return []
    spreads = m.get(names.CLOCK_OFFSET_UNCERTAINTY)
    spread_of = spreads.samples() if spreads is not None and spreads.labelnames == offsets.labelnames else {}
    limit = host.settings.daemon.max_clock_offset
    out = []
    for key, value in offsets.samples().items():
        if not math.isfinite(value):
            continue
        spread = spread_of.get(key, math.inf)
        estimate = OffsetEstimate(value * 1000, spread * 1000 if math.isfinite(spread) else None, ())
        out.append(ClockReading(
            source=key[0] if key else "",
            offset_ms=round(estimate.offset_ms),
            uncertainty_ms=None if estimate.uncertainty_ms is None else round(estimate.uncertainty_ms),
            max_offset_ms=round(limit * 1000),
            ok=not estimate.beyond(limit * 1000),
            detail=f"the local clock is {estimate.describe()}",
        ))  # fmt: skip
    return sorted(out, key=lambda c: -abs(c.offset_ms))


def clock_view(host: ControlHost) -> ClockReading | None:
    """How far the local clock is off the exchange's (``None`` until a source measured it)."""
    offsets = _clock_offsets(host)
    return offsets[0] if offsets else None


# -- stats -----------------------------------------------------------------------------------


def stats_view(host: ControlHost) -> Stats:
    """The ``stats`` result (also the params of each ``stats`` notification)."""
    m = host.telemetry.metrics
    now = host.clock.time()
    sink = host.settings.sink.use
    spool_batches = _int(_sum(m, names.SPOOL_BATCHES))
    latency = _latest(m, names.WRITE_LATENCY, sink=sink)
    budget = _latest(m, names.REST_WEIGHT_BUDGET)
    clock = clock_view(host)
    return Stats(
        time=now,
        frames_in=_int(_sum(m, names.FRAMES)),
        candles_in=_int(_sum(m, names.CANDLES_IN)),
        malformed=_int(_sum(m, names.MALFORMED)),
        reconnects=_int(_sum(m, names.RECONNECTS)),
        rows_written=_int(_sum(m, names.ROWS_WRITTEN)),
        permanent_losses=_int(_sum(m, names.PERMANENT_LOSSES)),
        derived_checked=_int(_sum(m, names.DERIVED_CHECKED)),
        derived_mismatches=_int(_sum(m, names.DERIVED_MISMATCHES)),
        buffer=BufferStats(depth=_int(_sum(m, names.BUFFER_DEPTH)), capacity=_int(_sum(m, names.BUFFER_CAPACITY))),
        spool=SpoolStats(
            batches=spool_batches,
            bytes=_int(_sum(m, names.SPOOL_BYTES)),
            oldest_age=_latest(m, names.SPOOL_OLDEST_AGE) if spool_batches else None,
        ),
        rest=RestStats(
            weight_used=_int(_sum(m, names.REST_WEIGHT_USED)),
            weight_last_minute=_int(_sum(m, names.REST_WEIGHT_LAST_MINUTE)),
            budget_per_minute=_int(budget or 0),
        ),
        ws_limits=WsLimits(
            connections=_int(_sum(m, names.WS_CONNECTIONS)),
            subscriptions=_int(_sum(m, names.WS_SUBSCRIPTIONS)),
            connects_last_minute=_int(_sum(m, names.WS_CONNECTS_LAST_MINUTE)),
            messages_last_minute=_int(_sum(m, names.WS_MESSAGES_LAST_MINUTE)),
        ),
        sink=SinkStats(
            name=sink,
            rows_written=_int(_sum(m, names.ROWS_WRITTEN, sink=sink)),
            write_latency=latency,
            errors=_int(_sum(m, names.WRITE_ERRORS, sink=sink)),
        ),
        markets=_market_stats(host, now),
        clock_offset_ms=clock.offset_ms if clock else None,
        clock=clock,
    )


# -- health ----------------------------------------------------------------------------------


def _check(name: str, ok: bool, detail: str) -> Check:
    return Check(name=name, ok=ok, detail=detail)


def health_view(host: ControlHost) -> Health:
    """``healthy``, ``degraded`` (something needs attention) or ``failing`` (data is at risk).

    Degraded: a component not running (backing off, failed, stopped), a non-empty spool, a
    stale market, a market in grid mismatch, or a local clock off the exchange's by more than
    ``[daemon] max_clock_offset`` (candles still close on the exchange's clock). Failing: a
    critical component failed, or the sink is down while the spool is at its cap.
    """
    m = host.telemetry.metrics
    checks: list[Check] = []
    degraded = failing = False
    for child in host.supervisor.children.values():
        state = child.state
        ok = state in _OK_STATES
        detail = str(state)
        if child.last_error is not None and not ok:
            detail += f": {child.last_error.type}: {child.last_error.message}"
        if not ok:
            degraded = True
            if state is ChildState.FAILED and child.policy.critical:
                failing = True
                detail += " (critical)"
        checks.append(_check(f"component:{child.name}", ok, detail))

    batches = _int(_sum(m, names.SPOOL_BATCHES))
    spooled = _int(_sum(m, names.SPOOL_BYTES))
    cap = host.settings.spool.max_bytes
    if batches:
        degraded = True
        age = _latest(m, names.SPOOL_OLDEST_AGE)
        detail = f"{batches} batches ({spooled} bytes of {cap}) waiting" + (f", oldest {age:.0f}s" if age else "")
    else:
        detail = "empty"
    checks.append(_check("spool", batches == 0, detail))

    sink_child = host.supervisor.children.get(host.settings.sink.use)
    sink_up = sink_child is not None and sink_child.state is ChildState.RUNNING
    if not sink_up and spooled >= cap:
        failing = True
        checks.append(_check("sink", False, f"sink down and spool at its cap ({spooled} >= {cap} bytes)"))
    else:
        checks.append(_check("sink", sink_up, "up" if sink_up else "down; batches are spooled"))

    markets = _market_stats(host, host.clock.time())
    checks.extend(_stale_checks(host, markets))
    checks.extend(_grid_checks(markets))
    if any(not c.ok for c in checks if c.name.startswith(("market:", "grid:"))):
        degraded = True
    for clock in _clock_offsets(host):
        limit = clock.max_offset_ms / 1000
        if clock.ok:
            detail = f"{clock.detail}; within {limit:g} s"
        else:
            degraded = True
            detail = f"{clock.detail}, more than {limit:g} s; {NTP_ADVICE}"
        checks.append(_check(f"clock:{clock.source}", clock.ok, detail))
    status = FAILING if failing else DEGRADED if degraded else HEALTHY
    return Health(status=status, checks=checks)


def _stale_checks(host: ControlHost, markets: Iterable[MarketStats]) -> list[Check]:
    out = []
    for row in markets:
        name = f"market:{row.source}:{row.coin}:{row.interval}"
        lag = row.lag
        if lag is None:
            child = host.supervisor.children.get(row.source)
            up = child.uptime() if child is not None else None
            ok = up is None or up < STALE_AFTER or _feed_alive(host, row)
            out.append(_check(name, ok, "no data yet" if ok else f"no data in {up:.0f}s since start"))
        elif lag > STALE_AFTER and _feed_alive(host, row):
            out.append(_check(name, True, f"last frame {lag:.0f}s ago (quiet: its connection is alive)"))
        else:
            ok = lag <= STALE_AFTER
            out.append(_check(name, ok, f"last frame {lag:.0f}s ago" + ("" if ok else " (stale)")))
    return out


def _feed_alive(host: ControlHost, row: MarketStats) -> bool:
    source = host.components.get(row.source)
    return isinstance(source, Source) and source.feed_alive(row.coin, row.interval)


def _grid_checks(markets: Iterable[MarketStats]) -> list[Check]:
    """One failed check per market whose candles the exchange opens off candlewick's grid."""
    out = []
    for row in markets:
        found = row.grid_mismatch
        if found is not None:
            detail = (
                f"grid mismatch: the exchange opened a {row.interval} candle at {format_time(found.seen)}, "
                f"candlewick's grid expects {format_time(found.expected)}; candles are stored as sent, "
                "gap repair is paused for this market"
            )
            out.append(_check(f"grid:{row.source}:{row.coin}:{row.interval}", False, detail))
    return out


# -- status ----------------------------------------------------------------------------------


def status_view(host: ControlHost, *, socket: str | None = None) -> Status:
    """The ``status`` result: the daemon and every supervised component."""
    now = host.clock.time()
    clock = clock_view(host)
    return Status(
        daemon=DaemonInfo(
            version=host.version,
            pid=host.pid,
            uptime=max(0.0, now - host.started_at),
            started_at=host.started_at,
            config_path=str(host.config_path) if host.config_path else None,
            backend=host.backend,
            socket=socket,
            health=health_view(host).status,
        ),
        components=[child.status() for child in host.supervisor.children.values()],
        clock_offset_ms=clock.offset_ms if clock else None,
        clock=clock,
    )
