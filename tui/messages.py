"""Messages the link workers post up to the app (attributes go down, messages come up)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class LinkUp(Message):
    """Attached to the daemon; ``server`` is its ``hello`` answer."""

    server: Mapping[str, Any]


@dataclass
class LinkDown(Message):
    """Not attached (never was, or the daemon went away); ``error`` says why."""

    error: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LinkDown)


@dataclass
class StatusResult(Message):
    """Answers of ``status``, ``health`` and ``backfill.list`` from one poll (None: not answered)."""

    status: Mapping[str, Any] | None = None
    health: Mapping[str, Any] | None = None
    jobs: Mapping[str, Any] | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusResult)


@dataclass
class StatsSample(Message):
    """One ``stats`` result or notification."""

    stats: Mapping[str, Any]


@dataclass
class EventsReceived(Message):
    """A burst of ``events`` notifications."""

    events: Sequence[Mapping[str, Any]] = field(default_factory=list)


@dataclass
class ActionDone(Message):
    """A command sent from the dashboard succeeded."""

    what: str
    result: Any = None


@dataclass
class ActionFailed(Message):
    """A command sent from the dashboard failed; ``title`` and ``message`` are for the operator."""

    what: str
    title: str
    message: str


@dataclass
class CandlesLoaded(Message):
    """A ``candles.recent`` answer for the market detail screen."""

    coin: str
    interval: str
    result: Mapping[str, Any]
    error: str = ""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CandlesLoaded) and (message.coin, message.interval) == (self.coin, self.interval)
