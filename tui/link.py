"""The dashboard's one attachment to the daemon, through :mod:`candlewick.control.client` only.

:class:`DaemonLink` keeps a connection open, re-attaches by itself when the daemon comes
(back) up, and turns answers and notifications into :mod:`candlewick.tui.messages` posted
to its owner. It never touches a widget; the app runs its methods in named workers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol

import anyio

from candlewick.control.client import START_HINT, ControlClient
from candlewick.errors import CandlewickError, ControlError
from candlewick.tui.messages import (
    ActionDone,
    ActionFailed,
    EventsReceived,
    LinkDown,
    LinkUp,
    StatsSample,
    StatusResult,
)

log = logging.getLogger(__name__)

#: Seconds between attempts to attach while the daemon is not running.
DEFAULT_RETRY_INTERVAL = 1.0
#: Seconds a dashboard call may take before it is reported as failed.
DEFAULT_CALL_TIMEOUT = 10.0
#: Topics the dashboard listens to.
TOPICS = ("stats", "events")
#: Recent events replayed on attach, so the events pane is not empty after a (re-)attach.
EVENT_REPLAY = 50


class Client(Protocol):
    """What the dashboard uses of :class:`~candlewick.control.client.ControlClient`."""

    server: dict[str, Any]

    async def call(self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Call ``method`` and return its result."""

    async def subscribe(self, topics: Sequence[str], **options: Any) -> list[str]:
        """Start receiving notifications on ``topics``."""

    def notifications(self) -> AsyncIterator[Any]:
        """Notifications (``.method``, ``.params``) until the connection closes."""


#: Opens a connection to the socket at the given path (``ControlClient.connect`` by default).
Connector = Callable[[Path], AbstractAsyncContextManager[Client]]


class Poster(Protocol):
    """Anything messages can be posted to (a Textual app, screen or widget)."""

    def post_message(self, message: Any) -> bool:
        """Queue ``message`` for the owner."""


def describe(err: BaseException) -> tuple[str, str]:
    """A title and a one-paragraph message for an error shown to the operator."""
    if isinstance(err, CandlewickError):
        return err.title, str(err)
    return "unexpected error", f"{type(err).__name__}: {err}"


def link_error(exc: BaseException) -> str | None:
    """Why the link was lost, if ``exc`` (or every exception in its group) is a lost link; else None.

    Control errors and OS errors end a session and the dashboard re-attaches; anything else
    is a bug and keeps its traceback.
    """
    if isinstance(exc, BaseExceptionGroup):
        reasons = [link_error(inner) for inner in exc.exceptions]
        if not reasons or any(r is None for r in reasons):
            return None
        return reasons[0]
    if isinstance(exc, ControlError):
        # "start the daemon" is what the disconnected screen explains; other hints (permissions,
        # protocol versions) say something it does not, so they stay
        return exc.message if exc.hint in (None, START_HINT) else f"{exc.message} ({exc.hint})"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}"
    return None


class NotAttached(ControlError):
    """A command was given while no daemon is attached."""

    title = "not attached"


class DaemonLink:
    """Attach to the daemon on ``socket_path`` and keep attached; run calls for the dashboard."""

    def __init__(
        self,
        socket_path: Path,
        owner: Poster,
        *,
        connector: Connector | None = None,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
    ) -> None:
        self.socket_path = socket_path
        self.owner = owner
        self.connector: Connector = connector or ControlClient.connect
        self.retry_interval = retry_interval
        self.call_timeout = call_timeout
        self.client: Client | None = None
        #: Attempts since the last successful attach (shown on the disconnected screen).
        self.attempts = 0

    @property
    def attached(self) -> bool:
        return self.client is not None

    async def run(self) -> None:
        """Attach, stream notifications, and re-attach after every loss; runs until cancelled."""
        while True:
            self.attempts += 1
            try:
                async with self.connector(self.socket_path) as client:
                    await self._session(client)
                error = "the daemon closed the connection"
            except Exception as exc:  # a lost link may come wrapped in task groups' ExceptionGroups
                reason = link_error(exc)
                if reason is None:
                    raise
                error = reason
            finally:
                self.client = None
            self.owner.post_message(LinkDown(error))
            await anyio.sleep(self.retry_interval)

    async def _session(self, client: Client) -> None:
        self.client = client
        self.attempts = 0
        log.debug("attached to %s", self.socket_path)
        self.owner.post_message(LinkUp(dict(client.server)))
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._first_stats, client)
            await self.poll()
            await client.subscribe(list(TOPICS), history=EVENT_REPLAY)
            async for note in client.notifications():
                self._dispatch(note.method, note.params)

    async def _first_stats(self, client: Client) -> None:
        """Fetch stats at once so the first paint does not wait for the first notification."""
        try:
            stats = await client.call("stats", timeout=self.call_timeout)
        except ControlError:
            return
        if isinstance(stats, Mapping):
            self.owner.post_message(StatsSample(stats))

    def _dispatch(self, method: str, params: Any) -> None:
        if method == "stats" and isinstance(params, Mapping):
            self.owner.post_message(StatsSample(params))
        elif method == "events":
            batch = params if isinstance(params, list) else [params]
            self.owner.post_message(EventsReceived([e for e in batch if isinstance(e, Mapping)]))

    async def poll(self) -> None:
        """Ask for status, health and jobs (what is not pushed) and post the answers."""
        client = self.client
        if client is None:
            return
        answers: dict[str, Mapping[str, Any] | None] = {}

        async def ask(method: str) -> None:
            try:
                result = await client.call(method, timeout=self.call_timeout)
            except ControlError as err:
                log.debug("%s failed: %s", method, err)
                result = None
            answers[method] = result if isinstance(result, Mapping) else None

        async with anyio.create_task_group() as tg:
            for method in ("status", "health", "backfill.list"):
                tg.start_soon(ask, method)
        self.owner.post_message(
            StatusResult(status=answers["status"], health=answers["health"], jobs=answers["backfill.list"])
        )

    async def call(self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """One call on the current connection; raises :class:`NotAttached` when there is none."""
        client = self.client
        if client is None:
            raise NotAttached(
                f"{method}: no daemon is attached on {self.socket_path}",
                hint="wait for the dashboard to re-attach, or start the daemon",
            )
        return await client.call(method, params, timeout=self.call_timeout if timeout is None else timeout)

    async def command(self, what: str, method: str, params: Mapping[str, Any]) -> None:
        """Send one operator command; post :class:`ActionDone` or :class:`ActionFailed`."""
        try:
            result = await self.call(method, params)
        except ControlError as err:
            title, message = describe(err)
            log.debug("%s failed: %s", what, message)
            self.owner.post_message(ActionFailed(what, title, message))
            return
        self.owner.post_message(ActionDone(what, result))
