"""Talking to a ``candlewick run`` subprocess a benchmark started: its ``stats``, and waiting
until its control socket answers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

from candlewick.control.client import ControlClient
from candlewick.errors import CandlewickError


async def daemon_stats(socket: Path, timeout: float = 10.0) -> dict[str, Any]:
    """The daemon's ``stats`` answer."""
    async with ControlClient.connect(socket, timeout=timeout) as client:
        result: dict[str, Any] = await client.call("stats")
        return result


async def wait_ready(socket: Path, proc: Process, timeout: float = 60.0, poll: float = 0.2) -> None:
    """Return once the daemon's control socket answers; raise if it exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"the daemon exited with {proc.returncode} before its socket answered")
        try:
            async with ControlClient.connect(socket, timeout=2.0) as client:
                await client.call("health")
                return
        except (CandlewickError, OSError):
            if time.monotonic() > deadline:
                raise
            await anyio.sleep(poll)
