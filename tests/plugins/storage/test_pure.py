"""Pure logic of the storage layer: batch winners, migration planning, coalescing, spool records."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from candlewick.errors import SchemaTooNew
from candlewick.model import INTERVALS
from candlewick.plugins._storage.migrations import Migration, plan
from candlewick.plugins._storage.rows import candle_from_row, row_of, winners
from candlewick.plugins.memory_buffer import spool_format as fmt
from candlewick.plugins.memory_buffer.coalescer import Coalescer
from candlewick.plugins.timescaledb.config import TimescaleConfig, interval_ms
from candlewick.plugins.timescaledb.sink import dsn_for_log
from candlewick.reading import CandleRow, candles_of

from .helpers import candle

STEPS = (Migration(1, "one", ("a",)), Migration(2, "two", ("b",)))


def test_winners_keep_one_version_per_key_by_the_supersedes_rule() -> None:
    """Within a batch the closed version wins over any open one, then more trades."""
    batch = [candle(0, trades=5), candle(0, trades=3, closed=True), candle(0, trades=9), candle(1, trades=2)]
    out = winners(batch)
    assert out == [candle(0, trades=3, closed=True), candle(1, trades=2)]


def test_winners_tie_goes_to_the_newer_version() -> None:
    """Equal rank: the later arrival wins (mirrors Candle.supersedes)."""
    a, b = candle(0, trades=2, close="1.0"), candle(0, trades=2, close="2.0")
    assert winners([a, b]) == [b]


def test_rows_round_trip() -> None:
    """A row rebuilds the same candle (close time derived from interval)."""
    c = candle(3, trades=7, closed=True)
    assert candle_from_row(*row_of(c)) == c


def test_plan_applies_missing_steps_in_order() -> None:
    """A new database gets every step; a current one none; an old one the rest."""
    assert [m.version for m in plan(0, STEPS, database="db")] == [1, 2]
    assert [m.version for m in plan(1, STEPS, database="db")] == [2]
    assert plan(2, STEPS, database="db") == []


def test_plan_refuses_a_schema_from_the_future() -> None:
    """A version past the newest known step raises SchemaTooNew naming both versions."""
    with pytest.raises(SchemaTooNew, match="schema version 3, but this candlewick knows versions up to 2"):
        plan(3, STEPS, database="db")
    assert SchemaTooNew.retryable is False


def times(co: Coalescer) -> tuple[float | None, float | None]:
    return co.since, co.closed_since


def test_coalescer_collapses_updates_and_never_goes_backwards() -> None:
    """Many open updates become one; a stale or open update never replaces a closed one."""
    co = Coalescer()
    assert co.add(candle(0, trades=1), 0.0) is False
    for n in range(2, 50):
        assert co.add(candle(0, trades=n), 0.1) is True
    assert co.add(candle(0, trades=10), 0.2) is True  # stale: fewer trades
    assert co.add(candle(0, trades=60, closed=True), 0.3) is True
    assert co.add(candle(0, trades=70), 0.4) is True  # open after closed
    assert co.closed == 1
    assert co.closed_since == 0.3
    assert co.since == 0.0
    assert co.take(10) == [candle(0, trades=60, closed=True)]
    assert (len(co), co.closed) == (0, 0)
    assert times(co) == (None, None)


def test_coalescer_takes_oldest_keys_first() -> None:
    """take(n) hands out keys in first-arrival order and keeps the rest."""
    co = Coalescer()
    for i in range(5):
        co.add(candle(i), float(i))
    co.add(candle(0, trades=4), 9.0)
    assert [c.open_time for c in co.take(2)] == [candle(0).open_time, candle(1).open_time]
    assert co.take(2)[0] == candle(2)
    assert len(co) == 1


def test_spool_records_round_trip_exactly() -> None:
    """Encoded batches decode to equal candles; created time and sizes are kept."""
    batch = [candle(i, trades=i + 1, closed=i % 2 == 0) for i in range(20)]
    rec = fmt.encode_record(fmt.encode_batch(batch), 1234)
    found = fmt.scan(rec + rec)
    assert [(r.offset, r.created_ms) for r in found.records] == [(0, 1234), (len(rec), 1234)]
    assert found.corrupt == []
    assert fmt.decode_batch(rec[fmt.HEADER.size :]) == batch


def test_spool_keeps_derived_and_reads_batches_written_before_it() -> None:
    """``derived`` survives the spool; a batch of 12-tuples (older spools) decodes as not derived."""
    batch = [dataclasses.replace(candle(i, closed=True), derived=i % 2 == 1) for i in range(4)]
    assert fmt.decode_batch(fmt.encode_batch(batch)) == batch
    old = msgspec.msgpack.encode([dataclasses.astuple(c)[:12] for c in batch])
    assert fmt.decode_batch(old) == [dataclasses.replace(c, derived=False) for c in batch]


def test_spool_scan_skips_damage_and_resynchronises() -> None:
    """A flipped byte costs only its record; a torn tail is reported, never raised."""
    recs = [fmt.encode_record(fmt.encode_batch([candle(i)]), i) for i in range(3)]
    data = bytearray(b"".join(recs))
    data[len(recs[0]) + fmt.HEADER.size + 3] ^= 0xFF  # inside record 1's payload
    torn = bytes(data) + recs[0][:-5]
    found = fmt.scan(torn)
    assert [r.created_ms for r in found.records] == [0, 2]
    assert [c.reason for c in found.corrupt] == ["checksum mismatch", "truncated payload"]
    assert found.corrupt[1].size == len(recs[0]) - 5


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90 days", 90 * 86_400_000),
        ("1 month", 30 * 86_400_000),
        ("3 mons", 90 * 86_400_000),
        ("1 week 2 days", 9 * 86_400_000),
        ("12h", 12 * 3_600_000),
        ("1 year", 365 * 86_400_000 + 86_400_000 // 4),
        ("bogus", None),
        ("7", None),
        ("1 day, 2 hours", None),
    ],
)
def test_postgres_intervals_are_read_as_postgresql_compares_them(text: str, ms: int | None) -> None:
    assert interval_ms(text) == ms


def test_compression_warning_needs_the_longest_open_candle_plus_a_day() -> None:
    assert TimescaleConfig(compress_after="7 days").compression_warning(["1m", "1w"]) is not None
    assert TimescaleConfig(compress_after="8 days").compression_warning(["1m", "1w"]) is None
    assert TimescaleConfig(compress_after="1 month").compression_warning(["1M"]) is not None  # months reach 31 days
    assert TimescaleConfig(compress_after="32 days").compression_warning(["1M"]) is None
    assert TimescaleConfig(compress_after=None).compression_warning(["1M"]) is None


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://candlewick:s3cret@db:5432/candles", "postgresql://candlewick@db:5432/candles"),
        ("postgresql://candlewick@db/candles?password=s3cret", "postgresql://candlewick@db/candles"),
        (
            "postgresql://db/candles?sslmode=require&sslpassword=k3y&application_name=cw",
            "postgresql://db/candles?sslmode=require&application_name=cw",
        ),
        ("postgresql://db/candles", "postgresql://db/candles"),
    ],
)
def test_a_dsn_is_shown_without_its_secrets(dsn: str, shown: str) -> None:
    """Logs and the spool's sink file never carry a password, wherever the DSN puts it."""
    assert dsn_for_log(dsn) == shown


@pytest.mark.parametrize("interval", INTERVALS)
def test_a_page_of_rows_becomes_the_same_candles_as_row_by_row(interval: str) -> None:
    """Batch conversion agrees with candle_from_row, months, off-grid times and derived rows included."""
    rows: list[CandleRow] = [
        (1_700_000_040_000, "1.5", "2", "1", "1.75", "0.00012340", 3, True, False),
        (1_706_745_600_000, "1.5", "2", "1", "1.75", "10", 0, False, False),
        (1_706_745_600_123, "1", "1", "1", "1", "0", 1, True, True),
    ]
    assert candles_of("ETH", interval, rows) == tuple(candle_from_row(r[0], "ETH", interval, *r[1:]) for r in rows)
