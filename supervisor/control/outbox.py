"""A client's outgoing queue: replies are never dropped, notifications are bounded.

Replies wait for room (at most ``max_replies`` pending: a client that stops reading stops
being read, and only its own tasks wait). Notifications never wait: past
``max_notifications`` the oldest is dropped and counted, and the client is told how many it
lost in a ``dropped`` notification sent ahead of the next ones.
"""

from __future__ import annotations

import collections
from typing import Final

import anyio

from candlewick.control.protocol import encode_notification

__all__ = ["DEFAULT_MAX_NOTIFICATIONS", "DEFAULT_MAX_REPLIES", "Outbox"]

DEFAULT_MAX_NOTIFICATIONS: Final = 256
DEFAULT_MAX_REPLIES: Final = 64
#: Most bytes handed to one socket write.
CHUNK_BYTES: Final = 256 * 1024


class Outbox:
    """Pending lines of one connection, taken by its writer task in chunks."""

    def __init__(
        self, *, max_notifications: int = DEFAULT_MAX_NOTIFICATIONS, max_replies: int = DEFAULT_MAX_REPLIES
    ) -> None:
        self.max_notifications = max_notifications
        self._replies: collections.deque[bytes] = collections.deque()
        self._notes: collections.deque[bytes] = collections.deque()
        self.max_replies = max_replies
        self._room = anyio.Event()
        self._wake = anyio.Event()
        self._unreported = 0
        #: Notifications dropped for this client since it connected.
        self.dropped = 0
        self.closed = False

    @property
    def pending(self) -> int:
        return len(self._replies) + len(self._notes)

    async def put_reply(self, data: bytes) -> None:
        """Queue an answer, waiting while too many answers are unsent."""
        while len(self._replies) >= self.max_replies:
            self._room = anyio.Event()
            await self._room.wait()
        self._replies.append(data)
        self._wake.set()

    def put_notification(self, data: bytes) -> bool:
        """Queue a push without waiting; returns False when an older one was dropped for it."""
        if self.closed:
            return True
        dropped = False
        if len(self._notes) >= self.max_notifications:
            self._notes.popleft()
            self.dropped += 1
            self._unreported += 1
            dropped = True
        self._notes.append(data)
        self._wake.set()
        return not dropped

    def close(self) -> None:
        """No more notifications; :meth:`take` returns ``b""`` once the rest was taken."""
        self.closed = True
        self._notes.clear()
        self._wake.set()

    async def take(self) -> bytes:
        """Wait for pending lines and return them joined: replies first, then the drop report.

        Returns ``b""`` when the outbox is closed and empty (the writer stops).
        """
        while not (self._replies or self._notes):
            if self.closed:
                return b""
            self._wake = anyio.Event()
            await self._wake.wait()
        parts: list[bytes] = []
        size = 0
        while self._replies and size < CHUNK_BYTES:
            data = self._replies.popleft()
            parts.append(data)
            size += len(data)
        self._room.set()
        if self._unreported:
            parts.append(encode_notification("dropped", {"count": self._unreported, "total": self.dropped}))
            self._unreported = 0
        while self._notes and size < CHUNK_BYTES:
            data = self._notes.popleft()
            parts.append(data)
            size += len(data)
        return b"".join(parts)
