"""A spool directory: its file names, the process that owns it, and the sink it is for.

One process owns a spool directory at a time (an ``flock`` on ``spool.lock``, which also
holds that process's pid, so whoever is refused can be told who holds it). The file ``sink``
names the sink a spool is for; batches spooled for another are replayed with a warning
naming both. Segments an earlier version spooled straight into the data directory's
``spool/`` are moved in (:func:`adopt`), and spools beside this one that nobody replays are
reported (:func:`stranded`). Everything here is synchronous: the spool runs it on a worker thread.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from candlewick.errors import CandlewickError
from candlewick.runtime import pidlock

__all__ = [
    "REJECTED",
    "SpoolLocked",
    "adopt",
    "claim",
    "fsync_dir",
    "lock",
    "segment_name",
    "segment_number",
    "segments",
    "spool_files",
    "spool_holder",
    "stranded",
]

log = logging.getLogger(__name__)

_SUFFIX = ".cwspool"
_LOCK = "spool.lock"
#: Names the sink a spool directory's batches are for.
_SINK = "sink"
#: Where batches the sink refuses for good are set aside.
REJECTED = "rejected"


class SpoolLocked(CandlewickError):
    """Another process uses this spool directory."""

    title = "spool in use"
    retryable = True


def segment_name(n: int) -> str:
    """The file name of segment ``n``."""
    return f"seg-{n:012d}{_SUFFIX}"


def segment_number(path: Path) -> int | None:
    """The number of a segment file, or ``None`` if ``path`` is not named like one."""
    try:
        return int(path.name[4 : -len(_SUFFIX)])
    except ValueError:
        return None


def segments(directory: Path) -> list[Path]:
    """Files in ``directory`` that look like segments, sorted by name (number)."""
    return sorted(directory.glob(f"seg-*{_SUFFIX}"))


def lock(directory: Path) -> int:
    """Take ``spool.lock`` of ``directory`` (it records our pid); :class:`SpoolLocked` if taken."""
    try:
        return pidlock.take(directory / _LOCK)
    except pidlock.LockHeld as held:
        raise SpoolLocked(
            f"spool directory {directory} is in use by another process" + (f" (pid {held.pid})" if held.pid else ""),
            hint="stop the other candlewick or give this one its own [spool] dir",
        ) from None


def recorded_sink(directory: Path) -> str | None:
    try:
        return (directory / _SINK).read_text().strip() or None
    except OSError:
        return None


def stranded(root: Path, mine: Path) -> list[str]:
    """Spools beside ``mine`` under ``root`` that hold batches and that no running process owns.

    They were spooled for another sink or target (a changed ``dsn`` or ``path``, or another
    config sharing the data directory) and nothing replays them: one line each saying so.
    """
    out = []
    for directory in sorted(p for p in root.glob("*") if p.is_dir() and p != mine):
        found = [p for p in segments(directory) if segment_number(p) is not None]
        if not found or spool_holder(directory) is not None:
            continue
        size = sum(p.stat().st_size for p in found)
        out.append(
            f"spool {directory} holds {size} bytes spooled for sink {recorded_sink(directory) or '(unknown)'} that"
            f" nothing replays; if that was this config before its sink changed, stop candlewick and move them:"
            f" mv {directory}/seg-*{_SUFFIX} {mine}/"
        )
    return out


def spool_files(directory: Path) -> list[Path]:
    """What the spool writes in ``directory`` besides new segments: its lock, sink name and rejects."""
    return [directory / _LOCK, directory / _SINK, directory / REJECTED]


def spool_holder(directory: Path) -> int | None:
    """Who holds the spool in ``directory``: its pid (0 if it did not say), or ``None`` when free."""
    return pidlock.holder(directory / _LOCK)


def claim(directory: Path, sink: str | None, waiting: int) -> None:
    """Name ``sink`` as this spool's; say so when ``waiting`` batches spooled for another are replayed into it."""
    if sink is None:
        return
    recorded = recorded_sink(directory)
    if recorded not in (None, sink) and waiting:
        log.warning(
            "spool %s holds %d batches spooled for sink %s; replaying them into %s (the config's sink"
            " changed; if another config shares this [spool] dir, give each its own)",
            directory, waiting, recorded, sink,
        )  # fmt: skip
    if recorded != sink:
        (directory / _SINK).write_text(sink + "\n")


def adopt(directory: Path, legacy: Path, sink: str | None) -> None:
    """Move segments an earlier version spooled straight into ``legacy`` into ``directory``."""
    found = [p for p in segments(legacy) if segment_number(p) is not None]
    if not found:
        return
    try:
        legacy_fd = lock(legacy)
    except SpoolLocked as exc:
        log.warning("%s; its batches stay there until it stops", exc)
        return
    try:
        numbers = [n for p in segments(directory) if (n := segment_number(p)) is not None]
        first = max(numbers, default=0) + 1
        for k, path in enumerate(sorted(found, key=lambda p: segment_number(p) or 0)):
            path.rename(directory / segment_name(first + k))
        fsync_dir(directory)
    finally:
        os.close(legacy_fd)
    log.warning(
        "moved %d spool segments of an earlier candlewick from %s to %s; they are replayed into %s",
        len(found), legacy, directory, sink or "this sink",
    )  # fmt: skip


def fsync_dir(directory: Path) -> None:
    """Make the names in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
