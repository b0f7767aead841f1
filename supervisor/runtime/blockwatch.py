"""Notices code that blocks the event loop, on asyncio and trio alike, and names the plugin.

A heartbeat task on the loop notes the time every ``interval``; a watchdog thread checks that
note just as often. When the note is older than ``threshold`` the loop is blocked: the thread
samples the loop thread's stack (``sys._current_frames``) and attributes the innermost frame
whose module belongs to a plugin (the longest module prefix wins), so the warning names the
plugin, the file, line and function that hold the loop::

    the event loop has been blocked for 260 ms (threshold 250 ms) by plugin 'ticker' in
    .../candlewick_ticker/plugin.py:42 (TickerSource.run) ...

One warning per stall; when the loop runs again the heartbeat logs how long the stall lasted.
Detection takes between ``threshold`` and ``threshold + interval``. Real time, not the daemon's
clock: a test clock running 60x faster must not make every stall look long.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType

import anyio
from anyio.abc import TaskStatus

__all__ = ["BlockWatch", "Culprit", "find_culprit"]

log = logging.getLogger(__name__)

HINT = "a plugin must not block: await I/O, or move blocking calls to a thread with anyio.to_thread.run_sync"


@dataclass(frozen=True, slots=True)
class Culprit:
    """Who held the loop: a plugin (or ``None``) and the frame it was running."""

    plugin: str | None
    where: str

    def __str__(self) -> str:
        if self.plugin is None:
            return f"code outside any plugin, in {self.where}"
        return f"plugin {self.plugin!r} in {self.where}"


def find_culprit(frame: FrameType | None, owners: Mapping[str, str]) -> Culprit | None:
    """The innermost frame of ``frame``'s stack that a plugin owns (module prefix -> plugin name)."""
    innermost: FrameType | None = frame
    prefixes = sorted(owners, key=len, reverse=True)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return Culprit(owners[prefix], _where(frame))
        frame = frame.f_back
    return Culprit(None, _where(innermost)) if innermost is not None else None


def _where(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_filename}:{frame.f_lineno} ({code.co_qualname})"


class BlockWatch:
    """The heartbeat task and watchdog thread; :meth:`run` them in the daemon's task group."""

    def __init__(self, threshold: float, owners: Mapping[str, str], *, interval: float | None = None) -> None:
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        self.threshold = threshold
        self.interval = interval if interval is not None else max(0.01, threshold / 5)
        self.owners = dict(owners)
        #: Stalls seen (warned about), newest last: (seconds it lasted, culprit).
        self.stalls: list[tuple[float, Culprit | None]] = []
        self._beat = time.monotonic()
        self._loop_thread = 0
        self._culprit: Culprit | None = None
        self._warned = False
        self._stop = threading.Event()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._loop_thread = threading.get_ident()
        self._beat = time.monotonic()
        thread = threading.Thread(target=self._watch, name="candlewick-blockwatch", daemon=True)
        self._stop.clear()
        thread.start()
        try:
            task_status.started()
            while True:
                await anyio.sleep(self.interval)
                self._heartbeat()
        finally:
            self._stop.set()
            thread.join(timeout=1.0)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        gap = now - self._beat
        self._beat = now
        if self._warned:
            self._warned = False
            self.stalls.append((gap, self._culprit))
            log.info("the event loop ran again after %.0f ms blocked by %s", gap * 1000, self._culprit)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            age = time.monotonic() - self._beat
            if age <= self.threshold or self._warned:
                continue
            frame = sys._current_frames().get(self._loop_thread)
            self._culprit = find_culprit(frame, self.owners)
            del frame
            self._warned = True
            log.warning(
                "the event loop has been blocked for %.0f ms (threshold %.0f ms) by %s; %s",
                age * 1000, self.threshold * 1000, self._culprit, HINT,
            )  # fmt: skip
