"""An exclusive ``flock`` on a lock file that records the holder's pid.

One process owns a resource (a control socket, a spool directory) while it holds the lock;
whoever is refused, or merely asks (:func:`holder`), learns the owner's pid. The kernel
releases the lock when its holder exits, however it exits, so a stale file is harmless.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["LockHeld", "holder", "take"]


class LockHeld(Exception):
    """Another process holds the lock; ``pid`` is its pid when it recorded one."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"held by pid {pid}" if pid else "held by another process")
        self.pid = pid


def take(path: Path) -> int:
    """Lock ``path`` (created 0600 if missing) and write our pid in it; the descriptor holds the lock.

    Raises :class:`LockHeld` when another process holds it, ``OSError`` when the file cannot be opened.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = read_pid(fd)
        os.close(fd)
        raise LockHeld(pid) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def holder(path: Path) -> int | None:
    """The pid holding the lock on ``path`` (0 if it recorded none), or ``None`` when nobody does."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_pid(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_pid(fd: int) -> int | None:
    """The pid recorded in an open lock file, if any."""
    try:
        text = os.pread(fd, 32, 0).decode().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
