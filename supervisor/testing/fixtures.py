"""pytest fixtures for testing against the fake exchange.

Load them with ``pytest_plugins = ["candlewick.testing.fixtures"]`` in a ``conftest.py``; the
tests run under anyio's pytest plugin (``@pytest.mark.anyio``)::

    async def test_my_source(fake_exchange):
        fake_exchange.faults.duplicates = True
        ...  # point the source at fake_exchange.ws_url / fake_exchange.rest_url
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from candlewick.testing._exchange import FakeExchange

__all__ = ["fake_exchange"]


@pytest.fixture
async def fake_exchange() -> AsyncIterator[FakeExchange]:
    """A fake Hyperliquid exchange on a free loopback port (seed 0, pushes every 0.1 s)."""
    async with FakeExchange(seed=0, push_interval=0.1) as exchange:
        yield exchange
