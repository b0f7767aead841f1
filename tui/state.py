"""The dashboard's view-model: what the daemon last told us, folded into one state object.

Everything here is pure: results and notifications from the control socket go in, a new
:class:`DashboardState` comes out. Widgets render from the state alone (see
:mod:`candlewick.tui.view`), so a screenshot depends only on the state it was given.
Answers are read with the daemon's own wire schema (:mod:`candlewick.control.schema`),
tolerantly: a missing or mistyped field shows as "-" rather than crashing the dashboard,
because a newer daemon may add or drop fields.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import msgspec

from candlewick.control import schema as wire
from candlewick.control.schema import lenient

#: How many frames/s samples a market's sparkline keeps.
RATE_HISTORY = 16
#: Samples closer together than this (seconds) give no rate (the answer to ``stats`` and the
#: first pushed sample arrive together on attach).
MIN_RATE_SPAN = 0.5
#: Stats come every second; this long without one while attached is shown as a stall.
SILENT_AFTER = 5.0
#: How many events the events pane keeps.
EVENT_HISTORY = 200

Link = Literal["connecting", "attached", "detached"]


def _maps(raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


# -- what the daemon reports ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """The ``daemon`` part of ``status``."""

    version: str = ""
    pid: int = 0
    started_at: float | None = None
    uptime: float | None = None
    backend: str = ""
    socket: str = ""
    config_path: str = ""

    @classmethod
    def of(cls, d: wire.DaemonInfo) -> DaemonInfo:
        return cls(
            version=d.version,
            pid=d.pid,
            started_at=d.started_at,
            uptime=d.uptime,
            backend=d.backend,
            socket=d.socket or "",
            config_path=d.config_path or "",
        )


@dataclass(frozen=True, slots=True)
class ComponentView:
    """One supervised component as ``status`` lists it."""

    name: str
    kind: str = ""
    state: str = "unknown"
    restarts: int = 0
    last_error: str = ""
    uptime: float | None = None
    critical: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> ComponentView:
        c = lenient(wire.ComponentStatus, raw)
        error = c.last_error
        return cls(
            name=c.name or "?",
            kind=c.kind,
            state=c.state or "unknown",
            restarts=c.restarts,
            last_error="" if error is None else error.message or error.type,
            uptime=c.uptime,
            critical=c.critical,
        )

    @property
    def active(self) -> bool:
        """Whether ``stop`` (rather than ``start``) is the action that makes sense."""
        return self.state in {"starting", "running", "backing_off"}


class MarketView(wire.MarketStats):
    """One market's numbers from ``stats`` (the wire's, unknown names shown as "?")."""

    coin: str = "?"
    interval: str = "?"

    @property
    def key(self) -> tuple[str, str]:
        return (self.coin, self.interval)


class StatsView(wire.Stats):
    """One ``stats`` sample (the daemon pushes one per second): the wire's, each market a :class:`MarketView`.

    Every field of :class:`candlewick.control.schema.Stats` is read as the wire nests it
    (``stats.buffer.depth``); only values computed from them are added here, as properties.
    """

    markets: list[MarketView] = msgspec.field(default_factory=list)  # type: ignore[assignment]

    @property
    def clock_ok(self) -> bool:
        """Whether the local clock is within the daemon's ``max_clock_offset`` (yes until measured)."""
        return self.clock is None or self.clock.ok


@dataclass(frozen=True, slots=True)
class Job:
    """One backfill or repair job from ``backfill.list``."""

    id: str
    ref: int | str = ""
    kind: str = "user"
    coin: str = ""
    interval: str = ""
    state: str = "queued"
    fetched: int = 0
    expected: int = 0
    eta: float | None = None
    error: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Job:
        j = lenient(wire.Job, raw)
        ref = "?" if j.id == "" else j.id
        return cls(
            id=str(ref),
            ref=ref,
            kind=j.kind or "user",
            coin=j.coin,
            interval=j.interval,
            state=j.state or "queued",
            fetched=j.fetched,
            expected=j.expected,
            eta=j.eta,
            error=j.error or "",
        )

    @property
    def finished(self) -> bool:
        return self.state in {"done", "failed", "cancelled"}

    @property
    def progress(self) -> float | None:
        """Fraction done in 0..1, or None while the size is unknown."""
        if self.state == "done":
            return 1.0
        if self.expected <= 0:
            return None
        return min(1.0, self.fetched / self.expected)


class Event(wire.Event):
    """One notification on the ``events`` topic: the wire's event as it arrived."""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Event:
        return lenient(cls, raw)


@dataclass(frozen=True, slots=True)
class CandleBar:
    """One candle from ``candles.recent``, prices as floats for charting."""

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> CandleBar | None:
        """Parse one candle; None when a price is missing or not a number."""
        try:
            return cls(
                time=int(raw["time"]),
                open=float(raw["open"]),
                high=float(raw["high"]),
                low=float(raw["low"]),
                close=float(raw["close"]),
                volume=float(raw.get("volume", 0) or 0),
                closed=bool(raw.get("closed", True)),
            )
        except (KeyError, TypeError, ValueError):
            return None


def parse_candles(result: Mapping[str, Any]) -> tuple[CandleBar, ...]:
    """The candles of a ``candles.recent`` result, oldest first, unparseable ones dropped."""
    bars = (CandleBar.parse(raw) for raw in _maps(result, "candles"))
    return tuple(sorted((b for b in bars if b is not None), key=lambda b: b.time))


# -- the state --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DashboardState:
    """Everything the dashboard shows; replaced (never mutated in place) on each update."""

    socket: str
    link: Link = "connecting"
    link_error: str = ""
    daemon: DaemonInfo = field(default_factory=DaemonInfo)
    health: str = ""
    health_detail: tuple[str, ...] = ()
    #: Every check of the last ``health`` answer: (name, ok, detail).
    health_checks: tuple[tuple[str, bool, str], ...] = ()
    components: tuple[ComponentView, ...] = ()
    stats: StatsView | None = None
    rates: Mapping[tuple[str, str], tuple[float, ...]] = field(default_factory=dict)
    sink_rate: float | None = None
    jobs: tuple[Job, ...] = ()
    events: tuple[Event, ...] = ()
    #: Seconds without a stats sample while attached, once past :data:`SILENT_AFTER` (else None).
    silent_for: float | None = None

    def market(self, coin: str, interval: str) -> MarketView | None:
        if self.stats is None:
            return None
        return next((m for m in self.stats.markets if m.key == (coin, interval)), None)

    def component(self, name: str) -> ComponentView | None:
        return next((c for c in self.components if c.name == name), None)

    def job(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    @property
    def uptime(self) -> float | None:
        """Daemon uptime as of the last stats sample (so it advances with the stream)."""
        if self.stats is not None and self.daemon.started_at is not None:
            return max(0.0, self.stats.time - self.daemon.started_at)
        return self.daemon.uptime


def attached(state: DashboardState) -> DashboardState:
    return replace(state, link="attached", link_error="", silent_for=None)


def detached(state: DashboardState, error: str) -> DashboardState:
    """The daemon went away: keep the last numbers (they are shown dimmed), note why."""
    return replace(state, link="detached", link_error=error)


def with_silence(state: DashboardState, seconds: float) -> DashboardState:
    """Note how long the stats stream has been quiet (shown once past :data:`SILENT_AFTER`)."""
    silent = seconds if state.link == "attached" and seconds >= SILENT_AFTER else None
    return state if silent == state.silent_for else replace(state, silent_for=silent)


def with_status(state: DashboardState, result: Mapping[str, Any]) -> DashboardState:
    status = lenient(wire.Status, result)
    components = tuple(ComponentView.parse(c) for c in status.components)
    health = status.daemon.health or state.health
    return replace(state, daemon=DaemonInfo.of(status.daemon), components=components, health=health)


def with_health(state: DashboardState, result: Mapping[str, Any]) -> DashboardState:
    health = lenient(wire.Health, result)
    checks = tuple((c.name or "?", c.ok, c.detail) for c in health.checks)
    failing = tuple(f"{name}: {detail}".rstrip(": ") for name, ok, detail in checks if not ok)
    return replace(state, health=health.status or state.health, health_detail=failing, health_checks=checks)


def with_stats(state: DashboardState, result: Mapping[str, Any]) -> DashboardState:
    """Fold one stats sample in; frames/s per market comes from the difference to the last one."""
    new = lenient(StatsView, result)
    old = state.stats
    rates = dict(state.rates)
    sink_rate = state.sink_rate
    if old is not None and new.time - old.time >= MIN_RATE_SPAN:
        span = new.time - old.time
        sink_rate = max(0, new.sink.rows_written - old.sink.rows_written) / span
        before = {m.key: m.frames for m in old.markets}
        for m in new.markets:
            if m.key in before:
                rate = max(0, m.frames - before[m.key]) / span
                rates[m.key] = (*rates.get(m.key, ()), rate)[-RATE_HISTORY:]
    live = {m.key for m in new.markets}
    rates = {k: v for k, v in rates.items() if k in live}
    return replace(state, stats=new, rates=rates, sink_rate=sink_rate, silent_for=None)


def with_jobs(state: DashboardState, result: Mapping[str, Any]) -> DashboardState:
    jobs = tuple(Job.parse(j) for j in _maps(result, "jobs"))
    # running and queued first, then the most recent finished ones
    order = {"running": 0, "queued": 1}
    return replace(state, jobs=tuple(sorted(jobs, key=lambda j: order.get(j.state, 2))))


def with_events(state: DashboardState, raws: Iterable[Mapping[str, Any]]) -> DashboardState:
    """Append events, skipping ones already shown (a re-attach replays recent events)."""
    events: deque[Event] = deque(state.events, maxlen=EVENT_HISTORY)
    seen = {(e.seq, e.time) for e in events}
    for raw in raws:
        event = Event.parse(raw)
        if (event.seq, event.time) not in seen:
            events.append(event)
            seen.add((event.seq, event.time))
    return replace(state, events=tuple(events))
