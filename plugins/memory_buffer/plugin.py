"""Registers the ``memory`` buffer (``[buffer] use = "memory"``, the default)."""

from __future__ import annotations

from typing import Any

from candlewick.plugin import ComponentContext, ComponentSpec, hookimpl
from candlewick.plugins.memory_buffer.buffer import MemoryBuffer
from candlewick.plugins.memory_buffer.config import MemoryBufferConfig
from candlewick.runtime.policy import RestartPolicy


def _build(ctx: ComponentContext[Any]) -> MemoryBuffer:
    return MemoryBuffer(ctx)


@hookimpl
def candlewick_register_buffers() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="memory",
            kind="buffer",
            factory=_build,
            config_model=MemoryBufferConfig,
            restart=RestartPolicy(critical=True),
            description="coalescing memory buffer with a crash-safe disk spool",
        )
    ]
