"""The disk spool: order, durability across reopen, damaged data, size cap, single owner."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from candlewick.model import Candle
from candlewick.plugins.memory_buffer import spool_format as fmt
from candlewick.plugins.memory_buffer.spool import Spool, SpoolFull, SpoolLocked, spool_holder, stranded

from .helpers import candle

pytestmark = pytest.mark.anyio


def batch(k: int, size: int = 10) -> list[Candle]:
    return [candle(k * size + i, trades=k + 1, closed=i % 3 == 0) for i in range(size)]


async def opened(path: Path, *, max_bytes: int = 1 << 30, **options: Any) -> tuple[Spool, list[str]]:
    spool = Spool(path, max_bytes=max_bytes, **options)
    problems = await spool.open(time.monotonic)
    return spool, problems


async def drain(spool: Spool) -> list[list[Candle]]:
    out = []
    while (entry := spool.head()) is not None:
        got = await spool.read(entry)
        assert not isinstance(got, str), got
        out.append(got)
        await spool.remove(entry)
    return out


async def test_batches_come_back_in_order_after_reopen(tmp_path: Path) -> None:
    """What one process spooled, the next one reads back in the same order, exactly."""
    spool, _ = await opened(tmp_path)
    for k in range(5):
        await spool.append(batch(k), created_ms=1000 + k, now=0.0)
    assert spool.batches == 5
    assert spool.oldest_ms() == 1000
    await spool.close()
    again, problems = await opened(tmp_path)
    assert problems == []
    assert await drain(again) == [batch(k) for k in range(5)]
    await again.close()


async def test_segments_are_deleted_once_replayed(tmp_path: Path) -> None:
    """Small segments rotate; each is removed when its last batch is, leaving no data files."""
    spool, _ = await opened(tmp_path, segment_bytes=2000)
    for k in range(20):
        await spool.append(batch(k), created_ms=k, now=0.0)
    assert len(list(tmp_path.glob("seg-*"))) > 3
    first = len(list(tmp_path.glob("seg-*")))
    entry = spool.head()
    assert entry is not None
    await spool.remove(entry)
    assert len(list(tmp_path.glob("seg-*"))) == first
    assert len(await drain(spool)) == 19
    assert list(tmp_path.glob("seg-*")) == []
    assert spool.nbytes == 0
    await spool.append(batch(99), created_ms=1, now=0.0)
    assert await drain(spool) == [batch(99)]
    await spool.close()


async def test_torn_tail_is_reported_and_skipped(tmp_path: Path) -> None:
    """A half-written last record (a crash mid-write) is reported once per open; the rest replays."""
    spool, _ = await opened(tmp_path)
    for k in range(3):
        await spool.append(batch(k), created_ms=k, now=0.0)
    await spool.close()
    [segment] = tmp_path.glob("seg-*")
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])
    again, problems = await opened(tmp_path)
    assert len(problems) == 1
    assert "truncated payload" in problems[0]
    assert await drain(again) == [batch(0), batch(1)]
    await again.close()


async def test_garbage_in_the_middle_costs_only_the_damaged_batch(tmp_path: Path) -> None:
    """Flipped bytes inside one record: that record is skipped, later ones are found again."""
    spool, _ = await opened(tmp_path)
    entries = [await spool.append(batch(k), created_ms=k, now=0.0) for k in range(4)]
    await spool.close()
    [segment] = tmp_path.glob("seg-*")
    data = bytearray(segment.read_bytes())
    data[entries[1].offset + 30] ^= 0x55
    segment.write_bytes(bytes(data))
    again, problems = await opened(tmp_path)
    assert ["checksum mismatch" in p for p in problems] == [True]
    assert await drain(again) == [batch(0), batch(2), batch(3)]
    await again.close()


async def test_an_empty_or_foreign_file_does_not_stop_the_spool(tmp_path: Path) -> None:
    """Zero-byte segments are removed; unrelated names are reported and left alone."""
    (tmp_path / "seg-000000000007.cwspool").write_bytes(b"")
    (tmp_path / "seg-notanumber.cwspool").write_bytes(b"x")
    spool, problems = await opened(tmp_path)
    assert problems == ["seg-notanumber.cwspool: not a spool segment name; ignored"]
    assert spool.batches == 0
    assert not (tmp_path / "seg-000000000007.cwspool").exists()
    await spool.close()


async def test_size_cap_refuses_with_a_clear_error(tmp_path: Path) -> None:
    """Past max_bytes an append raises SpoolFull saying what happens and what to do."""
    spool, _ = await opened(tmp_path, max_bytes=3000)
    k = 0
    while spool.has_room(len(fmt.encode_batch(batch(k)))):
        await spool.append(batch(k), created_ms=k, now=0.0)
        k += 1
    with pytest.raises(SpoolFull, match="max_bytes"):
        await spool.append(batch(k), created_ms=k, now=0.0)
    assert 0 < spool.nbytes <= 3000
    kept = spool.batches
    assert len(await drain(spool)) == kept
    await spool.close()


@pytest.mark.parametrize("fsync", ["always", "interval", "never"])
async def test_every_fsync_policy_keeps_data(tmp_path: Path, fsync: str) -> None:
    """Whatever the fsync policy, appended batches are readable by the next process."""
    spool, _ = await opened(tmp_path, fsync=fsync, fsync_interval=0.01)
    for k in range(3):
        await spool.append(batch(k), created_ms=k, now=float(k))
    await spool.sync(10.0)
    await spool.close()
    again, _ = await opened(tmp_path)
    assert await drain(again) == [batch(k) for k in range(3)]
    await again.close()


async def test_one_owner_per_directory(tmp_path: Path) -> None:
    """A second spool on the same directory is refused while the first is open."""
    first, _ = await opened(tmp_path)
    with pytest.raises(SpoolLocked, match="in use by another process"):
        await opened(tmp_path)
    await first.close()
    second, _ = await opened(tmp_path)
    await second.close()


async def test_an_unreadable_segment_is_reported_not_fatal(tmp_path: Path) -> None:
    """A segment that cannot be read (here: a directory in its place) is reported and skipped."""
    spool, _ = await opened(tmp_path)
    await spool.append(batch(0), created_ms=0, now=0.0)
    await spool.close()
    (tmp_path / "seg-000000000000.cwspool").mkdir()
    again, problems = await opened(tmp_path)
    assert len(problems) == 1
    assert "cannot be read" in problems[0]
    assert await drain(again) == [batch(0)]
    await again.close()


async def test_batches_of_another_sink_in_a_shared_spool_are_replayed_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A [spool] dir shared by configs, or a sink changed: the batches land, and the log names both sinks."""
    spool, _ = await opened(tmp_path, sink="sqlite /data/a.db")
    await spool.append(batch(0), created_ms=1, now=0.0)
    await spool.close()
    with caplog.at_level(logging.WARNING):
        again, _ = await opened(tmp_path, sink="timescaledb postgresql://candlewick@db:5432/candlewick")
    assert await drain(again) == [batch(0)]
    await again.close()
    [warning] = [r.getMessage() for r in caplog.records if "spooled for sink" in r.getMessage()]
    assert "1 batches spooled for sink sqlite /data/a.db" in warning
    assert "replaying them into timescaledb postgresql://candlewick@db:5432/candlewick" in warning


async def test_a_spool_nothing_replays_is_named_with_the_move_that_replays_it(tmp_path: Path) -> None:
    """Default layout: a spool of another sink or target (a dsn fixed since) is pointed out, not replayed."""
    old, _ = await opened(tmp_path / "timescaledb-aaaaaaaaaaaa", sink="timescaledb postgresql://x@wrong:5432/db")
    await old.append(batch(0), created_ms=1, now=0.0)
    mine = tmp_path / "timescaledb-bbbbbbbbbbbb"
    assert stranded(tmp_path, mine) == []  # held by its (running) owner: not stranded
    await old.close()
    [line] = stranded(tmp_path, mine)
    assert "spooled for sink timescaledb postgresql://x@wrong:5432/db" in line
    assert f"mv {tmp_path / 'timescaledb-aaaaaaaaaaaa'}/seg-*.cwspool {mine}/" in line


async def test_an_earlier_versions_spool_is_moved_in_not_lost(tmp_path: Path) -> None:
    """Upgrading: segments spooled straight into <data_dir>/spool move into the sink's own directory."""
    legacy = tmp_path / "spool"
    old, _ = await opened(legacy, segment_bytes=2000)
    for k in range(6):
        await old.append(batch(k), created_ms=k, now=0.0)
    await old.close()
    assert len(list(legacy.glob("seg-*"))) > 1
    keyed = legacy / "sqlite-0123456789ab"
    spool, problems = await opened(keyed, sink="sqlite /data/a.db", legacy=legacy)
    assert problems == []
    assert not list(legacy.glob("seg-*"))
    assert await drain(spool) == [batch(k) for k in range(6)]
    await spool.close()


async def test_the_lock_names_the_pid_holding_it(tmp_path: Path) -> None:
    """Whoever is refused learns which process holds the spool."""
    assert spool_holder(tmp_path) is None
    spool, _ = await opened(tmp_path)
    assert spool_holder(tmp_path) == os.getpid()
    with pytest.raises(SpoolLocked, match=rf"in use by another process \(pid {os.getpid()}\)"):
        await opened(tmp_path)
    await spool.close()
    assert spool_holder(tmp_path) is None
