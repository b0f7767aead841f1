"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Backend-agnostic code runs on both asyncio and trio; asyncio-bound folders override this."""
    return str(request.param)
