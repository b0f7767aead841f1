"""The control socket on disk: private directory, ownership lock, stale files, peer credentials.

One daemon owns a socket path by holding an exclusive ``flock`` on ``<socket>.lock`` for as
long as it serves; the lock file records its pid. A socket file found while the lock is free
was left by a daemon that died: it is removed and bound afresh. A second daemon finds the
lock held and refuses to start, naming the owner's pid.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
import struct
from pathlib import Path
from typing import Final

from candlewick.errors import ControlError
from candlewick.runtime import pidlock

log = logging.getLogger(__name__)

__all__ = ["SOCKET_MODE", "AddressInUse", "SocketLock", "bind_unix", "peer_uid", "prepare_directory"]

DIR_MODE: Final = 0o700
SOCKET_MODE: Final = 0o600
#: How long a probe of an existing socket waits for an answer.
PROBE_TIMEOUT: Final = 1.0
BACKLOG: Final = 512
#: Longest Unix socket path Linux accepts (``sun_path`` is 108 bytes with its NUL).
MAX_PATH_BYTES: Final = 107
_UCRED = struct.Struct("3i")


class AddressInUse(ControlError):
    """Another live daemon serves the control socket."""

    title = "control socket in use"


def prepare_directory(path: Path) -> None:
    """Create the socket's directory with mode 0700; an existing one must belong to us or root."""
    parent = path.parent
    if parent.is_dir():
        st = parent.stat()
        if st.st_uid not in (os.geteuid(), 0):
            raise ControlError(
                f"the control socket directory {parent} belongs to uid {st.st_uid}, not to this user or root",
                hint="remove it or set [control] socket to a directory you own",
            )
        mode = st.st_mode
        if mode & (stat.S_IWGRP | stat.S_IWOTH) and not mode & stat.S_ISVTX:
            log.warning("control socket directory %s is writable by others; prefer a private directory", parent)
        return
    try:
        parent.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ControlError(
            f"cannot create the control socket directory {parent}: {exc.strerror}",
            hint="set [control] socket to a writable path",
        ) from exc
    os.chmod(parent, DIR_MODE)  # mkdir's mode is filtered by the umask


def check_length(path: Path) -> None:
    """Unix socket paths are limited to :data:`MAX_PATH_BYTES` bytes; say so before binding."""
    size = len(os.fsencode(path))
    if size > MAX_PATH_BYTES:
        raise ControlError(
            f"the control socket path {path} is {size} bytes long; Unix sockets allow {MAX_PATH_BYTES}",
            hint="set [control] socket to a shorter path",
        )


class SocketLock:
    """An exclusive lock on ``<socket>.lock`` held while a daemon serves that socket."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self.path = socket_path.with_name(socket_path.name + ".lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AddressInUse` naming the daemon that holds it."""
        if self._fd is not None:
            return
        check_length(self.socket_path)
        prepare_directory(self.socket_path)
        try:
            fd = pidlock.take(self.path)
        except pidlock.LockHeld as held:
            owner = f" (pid {held.pid})" if held.pid else ""
            raise AddressInUse(
                f"another candlewick daemon{owner} already serves {self.socket_path}",
                hint="stop it first ('candlewick ctl shutdown'), or give this one another [control] socket",
            ) from None
        except OSError as exc:
            raise ControlError(
                f"cannot open the control socket lock {self.path}: {exc.strerror}",
                hint="set [control] socket to a writable path",
            ) from exc
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (the lock file stays; it is harmless and reused)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def __enter__(self) -> SocketLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _live(path: Path) -> bool:
    """Whether something accepts connections on the socket file ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(PROBE_TIMEOUT)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    else:
        return True
    finally:
        probe.close()


def bind_unix(path: Path, *, backlog: int = BACKLOG) -> socket.socket:
    """A listening socket at ``path`` with mode 0600; call with the :class:`SocketLock` held.

    A socket file left by a dead daemon is replaced. A live one (a daemon not using the lock)
    or a file that is not a socket is refused rather than removed.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise ControlError(
                f"{path} exists and is not a socket; refusing to replace it",
                hint="remove it or set [control] socket to another path",
            )
        if _live(path):
            raise AddressInUse(f"another process serves {path}", hint="stop it or set [control] socket elsewhere")
        log.info("removing stale control socket %s", path)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
        os.chmod(path, SOCKET_MODE)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUse(f"{path} is in use", hint="set [control] socket elsewhere") from exc
        raise ControlError(f"cannot listen on {path}: {exc.strerror or exc}", hint="check [control] socket") from exc
    return sock


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end of a Unix socket (``SO_PEERCRED``)."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    except (OSError, AttributeError):
        return None
    _pid, uid, _gid = _UCRED.unpack(raw)
    return int(uid)
