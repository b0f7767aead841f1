"""Waiting in tests for something another task or process makes true."""

from __future__ import annotations

from collections.abc import Callable

import anyio


async def wait_until(predicate: Callable[[], object], *, timeout: float = 10.0, step: float = 0.01) -> None:
    """Poll ``predicate`` (real time) every ``step`` seconds until it is true; fail after ``timeout``."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(step)
