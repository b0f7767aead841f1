"""``[sink.timescaledb]`` options."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["DEFAULT_COPY_MIN_ROWS", "TimescaleConfig"]

#: Batches with at least this many rows go through COPY into a temporary table; smaller ones
#: through one ``INSERT ... SELECT FROM unnest(...)`` (see benchmarks/sink_write_paths.py).
DEFAULT_COPY_MIN_ROWS = 1000


class TimescaleConfig(BaseModel):
    """Options of the TimescaleDB/PostgreSQL sink."""

    model_config = ConfigDict(extra="forbid")

    dsn: str = "postgresql://candlewick@localhost:5432/candlewick"
    """libpq-style URL ``postgresql://user@host:5432/db``. libpq variables (``PGPASSWORD``,
    ``PGPASSFILE``...) apply as usual."""
    password: SecretStr | None = None
    """Password, if not in the DSN or ``PGPASSWORD``; best given as
    ``CANDLEWICK_SINK__TIMESCALEDB__PASSWORD_FILE=/run/secrets/...``."""
    pool_min_size: int = Field(default=0, ge=0)
    """Connections kept open even when idle (each PostgreSQL backend costs ~5-10 MB on the
    server). Used connections stay open for reuse up to 5 idle minutes either way."""
    pool_max_size: int = Field(default=2, ge=1)
    """At most this many connections (one writer plus one reader is plenty; 2 GB NAS)."""
    connect_timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for a connection before the batch is spooled instead."""
    command_timeout: float = Field(default=60.0, gt=0)
    """Seconds a statement may take before it is cancelled and the batch retried."""
    reconnect_max: float = Field(default=30.0, gt=0)
    """Longest pause, in seconds, between reconnect attempts while the database is away."""
    copy_min_rows: int = Field(default=DEFAULT_COPY_MIN_ROWS, ge=1)
    """Batches with at least this many rows use COPY + upsert; smaller ones ``unnest``."""
    chunk_time_interval: str = "30 days"
    """TimescaleDB chunk width of the ``candles`` hypertable (PostgreSQL interval)."""
    compress_after: str | None = None
    """Compress chunks older than this (e.g. ``"90 days"``). Upserts into compressed chunks work
    since TimescaleDB 2.11 (#4523) and go on past a conflict since 2.18.1 (#7672): use 2.18.1 or
    later. Keep it longer than the longest interval followed, or every update of the open candle
    decompresses its chunk again (check-config warns). Off by default."""
    retention: str | None = None
    """Drop chunks older than this (e.g. ``"5 years"``). Off by default: candles are kept."""

    @field_validator("dsn")
    @classmethod
    def _check_dsn(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a URL like postgresql://user@host:5432/db")
        return value
