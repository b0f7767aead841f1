"""Can this process write where the daemon keeps its state? Checked once, before anything runs.

A data directory the daemon cannot write (a bind mount owned by root while the container
runs as uid 10001) is a configuration error, not a fault: retrying ``Permission denied``
never helps. :func:`check_writable` names the first path that fails, the uid it runs as and
the ``chown`` that fixes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from candlewick.errors import ConfigError

__all__ = ["NotWritable", "check_writable"]

_DIR = os.W_OK | os.X_OK


class NotWritable(ConfigError):
    """A directory or file the daemon writes is not writable by its user."""

    title = "data directory not writable"


def check_writable(paths: Iterable[Path]) -> None:
    """Raise :class:`NotWritable` unless every path (and what is inside it) can be written.

    A directory is checked with everything in it; a file with its directory (SQLite and
    atomic renames create files beside it); a path that does not exist yet with the nearest
    directory that does, where it will be created.
    """
    for root in dict.fromkeys(Path(p).absolute() for p in paths):
        bad = _first_unwritable(root)
        if bad is not None:
            raise _error(root, bad)


def _first_unwritable(root: Path) -> Path | None:
    if not root.exists():
        parent = next((p for p in root.parents if p.exists()), None)
        return parent if parent is not None and not os.access(parent, _DIR) else None
    if not root.is_dir():
        if not os.access(root, os.R_OK | os.W_OK):
            return root
        return root.parent if not os.access(root.parent, _DIR) else None
    if not os.access(root, _DIR | os.R_OK):
        return root
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        for name in dirs:
            if not os.access(here / name, _DIR | os.R_OK):
                return here / name
        for name in files:
            path = here / name
            if not path.is_symlink() and not os.access(path, os.R_OK | os.W_OK):
                return path
    return None


def _error(root: Path, bad: Path) -> NotWritable:
    uid, gid = os.geteuid(), os.getegid()
    who = f"uid {uid} gid {gid}, which candlewick runs as"
    if _read_only(bad):
        return NotWritable(f"{bad} is on a read-only file system", hint=f"mount it read-write or move {root}")
    if not root.exists():
        return NotWritable(
            f"{root} does not exist and {bad} is not writable by {who}",
            hint=f"fix: mkdir -p {root} && chown -R {uid}:{gid} {root}",
        )
    try:
        owner = bad.stat()
        whose = f"; it is owned by uid {owner.st_uid} gid {owner.st_gid}, mode {owner.st_mode & 0o7777:o}"
    except OSError:
        whose = ""
    inside = "" if bad == root else f" (in {root})"
    fix = root if root.is_dir() else bad
    return NotWritable(
        f"{bad}{inside} is not writable by {who}{whose}",
        hint=f"fix: chown -R {uid}:{gid} {fix} (on a bind mount, the host folder behind it)",
    )


def _read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
