"""The wire schema of the control socket's results: ``status``, ``stats``, ``health``, events and jobs.

One :class:`msgspec.Struct` per JSON object. The daemon builds these structs (see
:mod:`candlewick.control.views`) and the protocol encodes them as they are; the dashboard
and ``candlewick ctl`` read answers back with :func:`lenient`, and the README's method table
is checked against :data:`RESULTS`. A field's name is its JSON key, in the order sent.

Every field has a default so that a client reads a daemon of another minor version: a key
it does not know is ignored, a missing one takes its default. Two objects stay open-ended
on purpose: a component's status carries the component's own keys beside the
:class:`ComponentStatus` ones (``Component.describe()``), and a job comes from a plugin
(``SupportsBackfill``), so both travel as objects and are read with :func:`lenient`.
No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import msgspec

from candlewick.events import EventKind

__all__ = [
    "OPEN",
    "RESULTS",
    "BufferStats",
    "Check",
    "ClockReading",
    "ComponentStatus",
    "DaemonInfo",
    "ErrorInfo",
    "Event",
    "EventKind",
    "Events",
    "GridMismatch",
    "Health",
    "Job",
    "Jobs",
    "MarketStats",
    "RestStats",
    "SinkStats",
    "SpoolStats",
    "Stats",
    "Status",
    "Wire",
    "WsLimits",
    "lenient",
]

S = TypeVar("S", bound="Wire")


class Wire(msgspec.Struct):
    """One JSON object of a result (unknown keys are ignored when read)."""


# -- status ------------------------------------------------------------------------------------


class DaemonInfo(Wire):
    """The ``daemon`` object of ``status``."""

    version: str = ""
    pid: int = 0
    uptime: float | None = None
    started_at: float | None = None
    config_path: str | None = None
    backend: str = ""
    socket: str | None = None
    #: ``healthy``, ``degraded`` or ``failing`` (as ``health`` says).
    health: str = ""


class ErrorInfo(Wire):
    """A component's last error."""

    type: str = ""
    message: str = ""
    time: float | None = None


class ComponentStatus(Wire):
    """The keys every component's status has (``status``, ``component.*``); the component may add its own."""

    name: str = ""
    kind: str = ""
    state: str = ""
    restarts: int = 0
    last_error: ErrorInfo | None = None
    uptime: float | None = None
    critical: bool = False
    restart: str = ""


class ClockReading(Wire):
    """How far the local clock is off an exchange's; positive is ahead."""

    source: str = ""
    offset_ms: int = 0
    #: ``None`` while only an upper bound of the offset is known.
    uncertainty_ms: int | None = None
    max_offset_ms: int = 0
    ok: bool = True
    detail: str = ""


class Status(Wire):
    """The ``status`` result."""

    daemon: DaemonInfo = msgspec.field(default_factory=DaemonInfo)
    #: Each a :class:`ComponentStatus` plus the component's own keys (read one with :func:`lenient`).
    components: list[dict[str, Any]] = msgspec.field(default_factory=list)
    #: The headline of ``clock`` (``None`` until a source measured it).
    clock_offset_ms: int | None = None
    clock: ClockReading | None = None


# -- stats -------------------------------------------------------------------------------------


class BufferStats(Wire):
    depth: int = 0
    capacity: int = 0


class SpoolStats(Wire):
    batches: int = 0
    bytes: int = 0
    #: Seconds; ``None`` while the spool is empty.
    oldest_age: float | None = None


class RestStats(Wire):
    weight_used: int = 0
    weight_last_minute: int = 0
    budget_per_minute: int = 0


class WsLimits(Wire):
    """Per-IP websocket limits in use, summed over the sources, beside what the exchange allows."""

    connections: int = 0
    connections_max: int = 10
    subscriptions: int = 0
    subscriptions_max: int = 1000
    connects_last_minute: int = 0
    connects_per_minute_max: int = 30
    messages_last_minute: int = 0
    messages_per_minute_max: int = 2000


class SinkStats(Wire):
    name: str = ""
    rows_written: int = 0
    #: Seconds the last batch write took (``None`` before the first).
    write_latency: float | None = None
    errors: int = 0


class GridMismatch(Wire):
    """Open times (ms) while the exchange's candles are off candlewick's grid."""

    expected: int = 0
    seen: int = 0


class MarketStats(Wire):
    """One market of ``stats``."""

    coin: str = ""
    interval: str = ""
    source: str = ""
    #: Open time (ms) of the newest candle.
    last_candle_time: int | None = None
    #: Wall time (s) of the last frame, and seconds since.
    last_frame_time: float | None = None
    lag: float | None = None
    frames: int = 0
    candles: int = 0
    candles_today: int = 0
    gaps_found: int = 0
    gaps_repaired: int = 0
    permanent_losses: int = 0
    grid_mismatch: GridMismatch | None = None
    #: Folded from 1m candles instead of subscribed; closed ones compared with the exchange's,
    #: and how many of those differed (the exchange's candle replaced the derived row).
    derived: bool = False
    derived_checked: int = 0
    derived_mismatches: int = 0


class Stats(Wire):
    """The ``stats`` result, and the params of each ``stats`` notification."""

    time: float = 0.0
    frames_in: int = 0
    candles_in: int = 0
    malformed: int = 0
    reconnects: int = 0
    rows_written: int = 0
    permanent_losses: int = 0
    #: Derived candles compared with the exchange's, and how many differed (all markets).
    derived_checked: int = 0
    derived_mismatches: int = 0
    buffer: BufferStats = msgspec.field(default_factory=BufferStats)
    spool: SpoolStats = msgspec.field(default_factory=SpoolStats)
    rest: RestStats = msgspec.field(default_factory=RestStats)
    ws_limits: WsLimits = msgspec.field(default_factory=WsLimits)
    sink: SinkStats = msgspec.field(default_factory=SinkStats)
    markets: list[MarketStats] = msgspec.field(default_factory=list)
    clock_offset_ms: int | None = None
    clock: ClockReading | None = None


# -- health, events, jobs ----------------------------------------------------------------------


class Check(Wire):
    name: str = ""
    ok: bool = True
    detail: str = ""


class Health(Wire):
    """The ``health`` result: ``healthy``, ``degraded`` or ``failing``, and every check."""

    status: str = ""
    checks: list[Check] = msgspec.field(default_factory=list)


class Event(Wire):
    """One event (``events`` notifications, ``events.recent``); ``kind`` is mostly an :class:`EventKind`."""

    seq: int = 0
    time: float = 0.0
    kind: str = ""
    source: str = ""
    message: str = ""
    data: dict[str, Any] = msgspec.field(default_factory=dict)


class Job(Wire):
    """One backfill or repair job (``backfill.*``, ``job`` events); open times in ms."""

    id: str | int = ""
    kind: str = ""
    coin: str = ""
    interval: str = ""
    start: int = 0
    end: int = 0
    state: str = ""
    fetched: int = 0
    expected: int = 0
    #: Seconds left, ``None`` while unknown.
    eta: float | None = None
    error: str | None = None
    priority: int = 0


class Jobs(Wire):
    """The ``backfill.start`` and ``backfill.list`` result."""

    jobs: list[Job] = msgspec.field(default_factory=list)


class Events(Wire):
    """The ``events.recent`` result, oldest first."""

    events: list[Event] = msgspec.field(default_factory=list)


#: The result of each method answering with one of these structs; the README's method table
#: names every field of it and of the structs inside it (a test checks).
RESULTS: Final[Mapping[str, type[Wire]]] = {
    "health": Health,
    "status": Status,
    "stats": Stats,
    "backfill.start": Jobs,
    "backfill.list": Jobs,
    "events.recent": Events,
}
#: Objects that travel as open dicts, and the struct of the keys they always have.
OPEN: Final[Mapping[tuple[type[Wire], str], type[Wire]]] = {(Status, "components"): ComponentStatus}


# -- reading -----------------------------------------------------------------------------------

#: Where in the object a validation error is: ``$.markets[0].lag``.
_AT: Final = re.compile(r" - at `\$((?:\.[^.\[`]+|\[\d+\])*)`$")
_STEP: Final = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def lenient(cls: type[S], raw: object) -> S:
    """``raw`` (a decoded JSON value) as ``cls``, never raising.

    A value of the wrong type takes its field's default, a list item of the wrong type is
    left out, and anything but an object gives ``cls()``: a daemon of another version, or
    a broken one, shows as defaults rather than an error.
    """
    try:
        return msgspec.convert(raw, cls)
    except msgspec.ValidationError:
        data = _copy(raw)  # the common case above copies nothing
    while True:
        try:
            return msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            found = _AT.search(str(exc))
            path = [] if found is None else _path(found.group(1))
            if not path or not _remove(data, path):
                return cls()


def _copy(raw: object) -> object:
    if isinstance(raw, Mapping):
        return {k: _copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_copy(v) for v in raw]
    return raw


def _path(text: str) -> list[str | int]:
    return [key if key else int(index) for key, index in _STEP.findall(text)]


def _remove(data: object, path: list[str | int]) -> bool:
    """Remove the value at ``path`` from ``data``; ``False`` when it is not there."""
    *parents, last = path
    for step in parents:
        if not _holds(data, step):
            return False
        data = data[step]  # type: ignore[index]
    if not _holds(data, last):
        return False
    del data[last]  # type: ignore[attr-defined]
    return True


def _holds(data: object, step: str | int) -> bool:
    if isinstance(step, int):
        return isinstance(data, list) and step < len(data)
    return isinstance(data, dict) and step in data
