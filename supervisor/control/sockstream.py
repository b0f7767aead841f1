"""A byte stream over a non-blocking Unix socket, built on ``anyio.wait_readable/writable``.

Why not anyio's own Unix stream: on asyncio it parks a read on a future that a selector
callback resolves, and removes that callback only later; a read cancelled or a stream closed
while the socket turns readable then makes the event loop log ``InvalidStateError`` (seen on
every client disconnect under load). ``wait_readable``/``wait_writable`` remove their
callback at once and tolerate a finished future, and ``notify_closing`` wakes waiters with
``ClosedResourceError``. Works the same on asyncio and trio.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import anyio
from anyio.abc import ByteStream, SocketAttribute

__all__ = ["UnixStream", "accept", "connect"]

READ_SIZE: Final = 65536
#: Pause before retrying a connect refused for a full listen backlog.
CONNECT_RETRY: Final = 0.01


class UnixStream(ByteStream):
    """One connected Unix stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._closed = False

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return {SocketAttribute.raw_socket: lambda: self._sock, SocketAttribute.family: lambda: socket.AF_UNIX}

    def _broken(self, exc: OSError) -> Exception:
        if self._closed:
            return anyio.ClosedResourceError()
        return anyio.BrokenResourceError(str(exc))

    async def receive(self, max_bytes: int = READ_SIZE) -> bytes:
        await anyio.lowlevel.checkpoint_if_cancelled()
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                data = self._sock.recv(max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(self._sock)
                continue
            except OSError as exc:
                raise self._broken(exc) from exc
            if not data:
                raise anyio.EndOfStream
            return data

    async def send(self, item: bytes) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        view = memoryview(item)
        while view:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                await anyio.wait_writable(self._sock)
                continue
            except OSError as exc:
                raise self._broken(exc) from exc
            view = view[sent:]

    async def send_eof(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            if self._sock.fileno() >= 0:
                anyio.notify_closing(self._sock)
            self._sock.close()
        await anyio.lowlevel.checkpoint()


async def accept(listener: socket.socket) -> UnixStream:
    """Wait for and accept one connection on a listening, non-blocking socket."""
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            await anyio.wait_readable(listener)
            continue
        return UnixStream(conn)


async def connect(path: Path) -> UnixStream:
    """Connect to the Unix socket at ``path`` (raises ``OSError`` as ``socket.connect`` does)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        while True:
            try:
                sock.connect(str(path))
            except BlockingIOError:  # the listener's backlog is full: retry shortly
                await anyio.sleep(CONNECT_RETRY)
            else:
                break
    except BaseException:
        sock.close()
        raise
    return UnixStream(sock)
