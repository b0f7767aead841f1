"""The candle subscriptions of one websocket connection, as a state machine free of I/O.

A :class:`Subscriptions` is fed what happens on its connection (connected, an ack, an error
frame naming a subscription, a candle, a market added or removed, disconnected) and answers
with a :class:`Step`: the frames to send, in order, and the markets whose state changed. The
connection shell (:class:`~candlewick.plugins.hyperliquid.link.Link`) sends those frames
through the per-IP message bucket and logs or publishes the changes; it never sets a state.

States of a market (:class:`SubState`)::

    NEW --connected / added while connected--> PENDING --ack or first candle--> SUBSCRIBED
                                               PENDING --error naming it------> REJECTED
    any --connected--> PENDING (every market is subscribed again on each connection)

A lost connection leaves the states as the exchange last gave them; the next connection
subscribes every market again. A refused market stays ``REJECTED`` until then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from candlewick.plugins.hyperliquid.protocol import ServerError, subscribe_frame, unsubscribe_frame

__all__ = ["Change", "ErrorVerdict", "Market", "Step", "SubState", "Subscriptions"]

Market = tuple[str, str]


class SubState(StrEnum):
    """Where one market's subscription stands on its connection."""

    NEW = "new"
    PENDING = "pending"
    SUBSCRIBED = "subscribed"
    REJECTED = "rejected"


class ErrorVerdict(Enum):
    """What an ``error`` frame meant for the subscriptions."""

    #: ``Already subscribed`` to one of ours: it is subscribed.
    ALREADY_SUBSCRIBED = "already_subscribed"
    #: ``Already (un)subscribed`` otherwise: the state is already what we want.
    HARMLESS = "harmless"
    #: The exchange refused one of our markets.
    REJECTED = "rejected"
    #: Names none of our markets: a server error to log.
    UNRELATED = "unrelated"


@dataclass(frozen=True, slots=True)
class Change:
    """One market's state moved (``None``: not followed on this connection)."""

    market: Market
    before: SubState | None
    after: SubState | None


@dataclass(slots=True)
class Step:
    """What the shell does after one event: send ``frames`` in order; ``changes`` happened."""

    frames: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


class Subscriptions:
    """The markets of one connection (at most ``capacity``) and their subscription states."""

    def __init__(self, markets: Iterable[Market], *, capacity: int) -> None:
        self.capacity = capacity
        self._states: dict[Market, SubState] = dict.fromkeys(markets, SubState.NEW)
        self._connected = False

    # -- reading -----------------------------------------------------------------------------

    def __contains__(self, market: object) -> bool:
        return market in self._states

    def __len__(self) -> int:
        return len(self._states)

    @property
    def markets(self) -> list[Market]:
        """The followed markets, in the order they were added."""
        return list(self._states)

    @property
    def room(self) -> int:
        """How many more markets this connection may carry."""
        return self.capacity - len(self._states)

    def state(self, market: Market) -> SubState | None:
        """The market's state, ``None`` when this connection does not follow it."""
        return self._states.get(market)

    def count(self, state: SubState) -> int:
        return sum(1 for s in self._states.values() if s is state)

    def in_state(self, state: SubState) -> list[Market]:
        return [m for m, s in self._states.items() if s is state]

    # -- events ------------------------------------------------------------------------------

    def connected(self) -> Step:
        """A connection opened: subscribe every market."""
        self._connected = True
        step = Step()
        for market in self._states:
            self._move(step, market, SubState.PENDING)
            step.frames.append(subscribe_frame(*market))
        return step

    def disconnected(self) -> Step:
        """The connection is gone: nothing is sent until the next one; states stay as last known."""
        self._connected = False
        return Step()

    def add(self, market: Market) -> Step:
        """Follow ``market``: subscribed at once while connected, else on the next connection."""
        step = Step()
        if market in self._states:
            return step
        if self._connected:
            self._move(step, market, SubState.PENDING)
            step.frames.append(subscribe_frame(*market))
        else:
            self._move(step, market, SubState.NEW)
        return step

    def remove(self, market: Market) -> Step:
        """Stop following ``market`` (unsubscribed at once while connected)."""
        step = Step()
        before = self._states.pop(market, None)
        if before is None:
            return step
        step.changes.append(Change(market, before, None))
        if self._connected:
            step.frames.append(unsubscribe_frame(*market))
        return step

    def acked(self, market: Market | None, method: str) -> Step:
        """A ``subscriptionResponse``: a subscribe of one of ours went through."""
        step = Step()
        if market is not None and market in self._states and method == "subscribe":
            self._move(step, market, SubState.SUBSCRIBED)
        return step

    def candle(self, market: Market) -> bool:
        """A candle of ``market`` arrived; False when this connection does not follow it (drop it).

        A candle proves a pending subscription works, whether or not its ack came first.
        """
        state = self._states.get(market)
        if state is None:
            return False
        if state is SubState.PENDING:
            self._states[market] = SubState.SUBSCRIBED
        return True

    def error(self, event: ServerError) -> tuple[ErrorVerdict, Step]:
        """An ``error`` frame; a refusal naming one of ours marks it ``REJECTED``."""
        step = Step()
        market = event.market
        ours = market is not None and market in self._states
        if event.kind == "already_subscribed" and ours:
            assert market is not None
            self._move(step, market, SubState.SUBSCRIBED)
            return ErrorVerdict.ALREADY_SUBSCRIBED, step
        if event.harmless:
            return ErrorVerdict.HARMLESS, step
        if ours:
            assert market is not None
            self._move(step, market, SubState.REJECTED)
            return ErrorVerdict.REJECTED, step
        return ErrorVerdict.UNRELATED, step

    def _move(self, step: Step, market: Market, state: SubState) -> None:
        before = self._states.get(market)
        self._states[market] = state
        if before is not state:
            step.changes.append(Change(market, before, state))
