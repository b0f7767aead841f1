"""Messages that come up to the app (attributes go down, messages come up).

The link workers post what the daemon answered; screens and the command palette post requests.
"""

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


# -- requests: screens and the command palette ask the app for an action ----------------------


@dataclass
class OpenMarket(Message):
    """Open the chart of one market."""

    coin: str
    interval: str


@dataclass
class OpenHealth(Message):
    """Open the health checks."""


@dataclass
class OpenBackfill(Message):
    """Open the backfill form, filled in for ``market`` if one is given."""

    market: tuple[str, str] | None = None


@dataclass
class OpenAddMarket(Message):
    """Open the add-market form, its coin filled in from ``market`` if one is given."""

    market: tuple[str, str] | None = None


@dataclass
class ConfirmComponent(Message):
    """Ask, then ``restart``, ``stop`` or ``start`` component ``name``."""

    action: str
    name: str


@dataclass
class ConfirmCancel(Message):
    """Ask, then cancel backfill job ``job_id``."""

    job_id: str


@dataclass
class ConfirmRemoveMarket(Message):
    """Ask, then stop collecting one market."""

    coin: str
    interval: str


@dataclass
class CandlesWanted(Message):
    """Fetch the newest ``limit`` candles of a market; the answer comes as :class:`CandlesLoaded`."""

    coin: str
    interval: str
    limit: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CandlesWanted) and (message.coin, message.interval) == (self.coin, self.interval)
