"""The one registry of counters, gauges and events that every view reads.

Components count and publish here; ``stats``, the ``events`` topic, ``candlewick ctl``, the
TUI and the Prometheus endpoint all read it. Nothing keeps a second copy of the truth.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from candlewick.runtime.clock import Clock, SystemClock

log = logging.getLogger(__name__)

MetricKind = Literal["counter", "gauge"]
LabelValues = tuple[str, ...]
T = TypeVar("T")

#: Events kept for clients that attach later (the TUI's first paint).
DEFAULT_EVENT_HISTORY = 500
#: Per-subscriber queue; a subscriber that falls further behind loses events, counted.
DEFAULT_SUBSCRIBER_QUEUE = 1000


class Metric:
    """A named family of values keyed by label values (a Prometheus-style metric)."""

    def __init__(self, kind: MetricKind, name: str, help: str, labels: tuple[str, ...]) -> None:
        self.kind = kind
        self.name = name
        self.help = help
        self.labelnames = labels
        self.values: dict[LabelValues, float] = {}
        self._functions: dict[LabelValues, Callable[[], float]] = {}

    def _key(self, labels: dict[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"metric {self.name} takes labels {self.labelnames}, got {tuple(labels)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def labels(self, **labels: str) -> Child:
        """A handle bound to one label set, cheap to use on hot paths."""
        return Child(self, self._key(labels))

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def set(self, value: float, **labels: str) -> None:
        if self.kind != "gauge":
            raise TypeError(f"{self.name} is a counter; counters only go up")
        self.values[self._key(labels)] = value

    def set_function(self, fn: Callable[[], float], **labels: str) -> None:
        """Read the value from ``fn`` at collection time (gauges only)."""
        if self.kind != "gauge":
            raise TypeError(f"{self.name} is a counter")
        self._functions[self._key(labels)] = fn

    def remove(self, **labels: str) -> None:
        key = self._key(labels)
        self.values.pop(key, None)
        self._functions.pop(key, None)

    def samples(self) -> dict[LabelValues, float]:
        """Current values by label values."""
        out = dict(self.values)
        for key, fn in self._functions.items():
            try:
                out[key] = float(fn())
            except Exception:  # a broken gauge function must not break stats
                log.debug("gauge %s%s failed", self.name, key, exc_info=True)
        return out


class Child:
    """One label set of a metric."""

    __slots__ = ("_key", "_metric")

    def __init__(self, metric: Metric, key: LabelValues) -> None:
        self._metric = metric
        self._key = key

    def inc(self, amount: float = 1.0) -> None:
        values = self._metric.values
        values[self._key] = values.get(self._key, 0.0) + amount

    def set(self, value: float) -> None:
        self._metric.values[self._key] = value

    def get(self) -> float:
        return self._metric.values.get(self._key, 0.0)


class Metrics:
    """Registry of metric families, by name."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def _get(self, kind: MetricKind, name: str, help: str, labels: tuple[str, ...]) -> Metric:
        existing = self._families.get(name)
        if existing is not None:
            if existing.kind != kind or existing.labelnames != labels:
                raise ValueError(f"metric {name} already registered as {existing.kind}{existing.labelnames}")
            return existing
        metric = self._families[name] = Metric(kind, name, help, labels)
        return metric

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Metric:
        """Get or create a counter (the same name always returns the same family)."""
        return self._get("counter", name, help, labels)

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Metric:
        """Get or create a gauge."""
        return self._get("gauge", name, help, labels)

    def families(self) -> list[Metric]:
        return list(self._families.values())

    def get(self, name: str) -> Metric | None:
        return self._families.get(name)

    def value(self, name: str, **labels: str) -> float:
        """Current value of one sample (0 when absent)."""
        metric = self._families.get(name)
        if metric is None:
            return 0.0
        return metric.samples().get(tuple(str(labels[n]) for n in metric.labelnames), 0.0)

    def total(self, name: str) -> float:
        """Sum over every label set of a family."""
        metric = self._families.get(name)
        return sum(metric.samples().values()) if metric else 0.0


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: a state change, a reconnect, a gap, job progress."""

    seq: int
    time: float
    kind: str
    source: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "source": self.source,
            "message": self.message,
            "data": self.data,
        }


class Subscription(Generic[T]):
    """A subscriber's bounded view of a fan-out; overflow is counted, never blocking."""

    def __init__(
        self,
        send: MemoryObjectSendStream[T],
        receive: MemoryObjectReceiveStream[T],
        accept: Callable[[T], bool] | None = None,
    ) -> None:
        self._send = send
        self.receive = receive
        self.dropped = 0
        self._accept = accept

    def offer(self, item: T) -> None:
        if self._accept is not None and not self._accept(item):
            return
        try:
            self._send.send_nowait(item)
        except anyio.WouldBlock:
            self.dropped += 1
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    def __aiter__(self) -> MemoryObjectReceiveStream[T]:
        return self.receive


class Fanout(Generic[T]):
    """Offers each item to every subscriber's bounded queue without ever blocking the producer.

    The one fan-out of the daemon: the event bus publishes through one, and the candle outlet
    tees live candles into another for the web stream.
    """

    def __init__(self) -> None:
        self._subscribers: set[Subscription[T]] = set()

    def __len__(self) -> int:
        return len(self._subscribers)

    def offer(self, item: T) -> None:
        """Hand ``item`` to every subscriber (one whose queue is full loses it, counted)."""
        for sub in tuple(self._subscribers):
            sub.offer(item)

    @contextmanager
    def subscribe(
        self, max_queue: int = DEFAULT_SUBSCRIBER_QUEUE, *, accept: Callable[[T], bool] | None = None
    ) -> Iterator[Subscription[T]]:
        """Receive every item offered while the ``with`` block is open (only those ``accept`` takes)."""
        send, receive = anyio.create_memory_object_stream[T](max_buffer_size=max_queue)
        sub = Subscription(send, receive, accept)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)
            send.close()
            receive.close()


class EventBus:
    """Publishes events to every subscriber without ever blocking the publisher."""

    def __init__(self, clock: Clock, history: int = DEFAULT_EVENT_HISTORY) -> None:
        self._clock = clock
        self._seq = itertools.count(1)
        self._history: collections.deque[Event] = collections.deque(maxlen=history)
        self._fanout = Fanout[Event]()
        self._listeners: list[Callable[[Event], None]] = []

    def publish(self, kind: str, source: str, message: str, **data: Any) -> Event:
        """Record and fan out an event; returns it."""
        event = Event(next(self._seq), self._clock.time(), kind, source, message, data)
        self._history.append(event)
        self._fanout.offer(event)
        for listener in tuple(self._listeners):
            listener(event)
        return event

    def recent(self, limit: int = 100) -> list[Event]:
        """The newest ``limit`` events, oldest first."""
        if limit <= 0:
            return []
        return list(self._history)[-limit:]

    def add_listener(self, fn: Callable[[Event], None]) -> None:
        """Call ``fn`` synchronously for every event (it must not block)."""
        self._listeners.append(fn)

    def subscribe(
        self, max_queue: int = DEFAULT_SUBSCRIBER_QUEUE
    ) -> contextlib.AbstractContextManager[Subscription[Event]]:
        """Receive every event published while the ``with`` block is open."""
        return self._fanout.subscribe(max_queue)


class Telemetry:
    """Metrics and events of one daemon."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.metrics = Metrics()
        self.events = EventBus(self.clock)

    def publish(self, kind: str, source: str, message: str, **data: Any) -> Event:
        """Shortcut for ``events.publish``."""
        return self.events.publish(kind, source, message, **data)
