"""``[buffer.memory]`` options (the spool itself is configured in the core ``[spool]`` section)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MemoryBufferConfig"]


class MemoryBufferConfig(BaseModel):
    """Options of the coalescing memory buffer."""

    model_config = ConfigDict(extra="forbid")

    flush_interval: float = Field(default=1.0, gt=0)
    """Seconds an update may wait in memory before it is written (updates of one candle
    within this window collapse into one row write)."""
    max_batch: int = Field(default=5000, ge=1)
    """Rows per write; a full batch is written at once without waiting for the interval."""
    max_pending: int = Field(default=20_000, ge=1)
    """Candles held in memory at most (about 0.5 KB each). When full and the sink is busy,
    they spill to the spool; when the spool is full too, sources are slowed (backpressure)."""
    close_delay: float = Field(default=0.05, ge=0)
    """Seconds a closed candle waits for others closing at the same moment before the flush."""
    retry_initial: float = Field(default=0.5, gt=0)
    """First pause, in seconds, before writing again to a sink that refused a batch."""
    retry_max: float = Field(default=10.0, gt=0)
    """Longest pause between such attempts."""
    write_timeout: float = Field(default=120.0, gt=0)
    """A write taking longer than this is abandoned and its batch spooled."""
    reject_after: int = Field(default=5, ge=1)
    """A spooled batch the sink fails with an error other than "unavailable" this many times in
    a row is moved to ``<spool dir>/rejected/`` and reported, so one bad batch cannot stall the rest."""

    @model_validator(mode="after")
    def _check(self) -> MemoryBufferConfig:
        if self.max_pending < self.max_batch:
            raise ValueError(f"max_pending ({self.max_pending}) must be at least max_batch ({self.max_batch})")
        if self.retry_max < self.retry_initial:
            raise ValueError("retry_max must be at least retry_initial")
        return self
