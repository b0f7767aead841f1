"""Can this process write where the daemon keeps its state? Checked once, before anything runs.

A data directory the daemon cannot write (a bind mount owned by root while the container
runs as uid 10001) is a configuration error, not a fault: retrying ``Permission denied``
never helps. :func:`check_writable` names the first path that fails, the uid it runs as and
the ``chown`` that fixes it.

Only what the daemon writes is checked: the directories it creates files in and the files
components declare (:meth:`candlewick.plugin.Component.writes`). Anything else in the data
directory (a config file put there, ``lost+found`` of a mounted volume) is none of its business.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from candlewick.errors import ConfigError

__all__ = ["SQLITE_COMPANIONS", "NotWritable", "check_writable", "sqlite_files"]

#: What SQLite writes beside a database file (WAL mode, or a hot journal after a crash).
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
_DIR = os.R_OK | os.W_OK | os.X_OK
_FILE = os.R_OK | os.W_OK


class NotWritable(ConfigError):
    """A directory or file the daemon writes is not writable by its user."""

    title = "data directory not writable"


def sqlite_files(path: Path) -> list[Path]:
    """A SQLite database file and the files SQLite writes beside it."""
    return [path, *(path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS)]


def check_writable(paths: Iterable[Path], *, home: Path | None = None) -> None:
    """Raise :class:`NotWritable` unless every path can be written.

    An existing directory must let us create and remove files in it; an existing file must be
    readable and writable, and its directory writable too (SQLite and atomic renames create
    files beside it); a path not there yet needs the nearest existing directory above it.
    ``home`` (the data directory) is what the ``chown -R`` advice names for paths inside it.
    """
    for path in dict.fromkeys(Path(p).absolute() for p in paths):
        bad = _unwritable(path)
        if bad is not None:
            raise _error(path, bad, home.absolute() if home is not None else None)


def _unwritable(path: Path) -> Path | None:
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        return parent if parent is not None and not os.access(parent, _DIR) else None
    if path.is_dir():
        return None if os.access(path, _DIR) else path
    if not os.access(path, _FILE):
        return path
    return None if os.access(path.parent, _DIR) else path.parent


def _error(path: Path, bad: Path, home: Path | None) -> NotWritable:
    uid, gid = os.geteuid(), os.getegid()
    who = f"uid {uid} gid {gid}, which candlewick runs as"
    if _read_only(bad):
        return NotWritable(f"{bad} is on a read-only file system", hint=f"mount it read-write or move {path}")
    inside = home is not None and bad.is_relative_to(home)
    if not path.exists() and not inside:
        return NotWritable(
            f"{path} does not exist and {bad} is not writable by {who}",
            hint=f"fix: mkdir -p {path} && chown -R {uid}:{gid} {path}",
        )
    try:
        owner = bad.stat()
        whose = f"; it is owned by uid {owner.st_uid} gid {owner.st_gid}, mode {owner.st_mode & 0o7777:o}"
    except OSError:
        whose = ""
    return NotWritable(
        f"{bad} is not writable by {who}{whose}",
        hint=f"fix: chown -R {uid}:{gid} {home if inside else bad} (on a bind mount, the host folder behind it)",
    )


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
