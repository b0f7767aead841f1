"""Our memory buffer passes the buffer suite."""

from __future__ import annotations

from typing import Any

import pytest

from candlewick.testing.compliance import BufferSuite


class TestMemoryBuffer(BufferSuite):
    plugin = "memory-buffer"
    component = "memory"

    @pytest.fixture
    def buffer_options(self) -> dict[str, Any]:
        return {"flush_interval": 0.05, "retry_initial": 0.05, "retry_max": 0.2, "reject_after": 1}
