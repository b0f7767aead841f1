"""The coalescing memory buffer and its crash-safe disk spool (``[buffer] use = "memory"``)."""

from __future__ import annotations

from candlewick.plugins.memory_buffer.buffer import MemoryBuffer
from candlewick.plugins.memory_buffer.coalescer import Coalescer
from candlewick.plugins.memory_buffer.config import MemoryBufferConfig
from candlewick.plugins.memory_buffer.spool import Spool, SpoolFull, SpoolLocked

__all__ = ["Coalescer", "MemoryBuffer", "MemoryBufferConfig", "Spool", "SpoolFull", "SpoolLocked"]
