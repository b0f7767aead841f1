"""``[sink.timescaledb]`` options."""

from __future__ import annotations

import re
from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from candlewick.model import DAY_MS, INTERVAL_MS

__all__ = ["DEFAULT_COPY_MIN_ROWS", "TimescaleConfig", "interval_ms"]

#: Batches with at least this many rows go through COPY into a temporary table; smaller ones
#: through one ``INSERT ... SELECT FROM unnest(...)`` (see benchmarks/sink_write_paths.py).
DEFAULT_COPY_MIN_ROWS = 1000


#: Milliseconds per PostgreSQL interval unit (a month is 30 days, as PostgreSQL compares them).
_UNITS_MS = {
    "millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000, "day": DAY_MS,
    "week": 7 * DAY_MS, "month": 30 * DAY_MS, "year": 365 * DAY_MS + DAY_MS // 4,
}  # fmt: skip
_ABBREVIATIONS = {
    "ms": "millisecond", "s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour",
    "hr": "hour", "d": "day", "w": "week", "mon": "month", "y": "year", "yr": "year",
}  # fmt: skip
_TERM = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", re.IGNORECASE)
#: The longest a candle of each interval stays open (a month has up to 31 days), plus a day for
#: its final write after the close and a compression job that runs meanwhile.
_LONGEST_OPEN_MS = {**{i: ms + DAY_MS for i, ms in INTERVAL_MS.items()}, "1M": 32 * DAY_MS}


def interval_ms(text: str) -> int | None:
    """``"90 days"``, ``"1 month 2 weeks"``, ``"12h"`` in ms; ``None`` for what this does not read."""
    total, pos = 0.0, 0
    for match in _TERM.finditer(text):
        if match.start() != pos:
            return None
        unit = match.group(2).lower()
        if unit not in _ABBREVIATIONS:
            unit = unit.removesuffix("s")
        unit = _ABBREVIATIONS.get(unit, unit)
        if unit not in _UNITS_MS:
            return None
        total += float(match.group(1)) * _UNITS_MS[unit]
        pos = match.end()
    return int(total) if pos and pos == len(text) else None


class TimescaleConfig(BaseModel):
    """Options of the TimescaleDB/PostgreSQL sink."""

    model_config = ConfigDict(extra="forbid")

    dsn: str = "postgresql://candlewick@localhost:5432/candlewick"
    """libpq-style URL ``postgresql://user@host:5432/db``. libpq variables (``PGPASSWORD``,
    ``PGPASSFILE``...) apply as usual."""
    password: SecretStr | None = None
    """Password, if not in the DSN or ``PGPASSWORD``; best given as
    ``CANDLEWICK_SINK__TIMESCALEDB__PASSWORD_FILE=/run/secrets/...``."""
    read_dsn: str | None = None
    """DSN for reads (exports, the Python API, ``candles.recent``), e.g. a role that may only
    ``SELECT`` from ``candles`` (see the README); unset, reads use ``dsn``. Reads run on a pool
    of their own either way, in read-only sessions."""
    read_password: SecretStr | None = None
    """Password of the ``read_dsn`` role, if not in that DSN or ``PGPASSWORD``."""
    read_pool_max_size: int = Field(default=2, ge=1)
    """At most this many connections for reads (beside the writer's ``pool_max_size``)."""
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

    @field_validator("dsn", "read_dsn")
    @classmethod
    def _check_dsn(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a URL like postgresql://user@host:5432/db")
        return value

    def compression_warning(self, intervals: Collection[str]) -> str | None:
        """Why ``compress_after`` would compress open candles of ``intervals``, or ``None``."""
        after = interval_ms(self.compress_after) if self.compress_after else None
        if after is None or not intervals:
            return None
        longest = max(intervals, key=lambda i: _LONGEST_OPEN_MS.get(i, 0))
        if after >= _LONGEST_OPEN_MS.get(longest, 0):
            return None
        days = -(-_LONGEST_OPEN_MS[longest] // DAY_MS)
        return (
            f"sink.timescaledb.compress_after = {self.compress_after!r} is too short for the {longest} candles"
            f" followed (open up to {longest}, plus a day for their final write): the open candle lands in a"
            f' compressed chunk, which every live update then decompresses again; set it to at least "{days} days"'
        )
