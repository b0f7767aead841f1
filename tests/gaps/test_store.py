"""The state file: pending jobs and ledger entries survive a restart."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from candlewick.gaps.jobs import STARTUP, USER, Job, JobKind, JobState
from candlewick.gaps.ledger import Ledger
from candlewick.gaps.store import StateTooNew, Store
from candlewick.plugin import Sink
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from tests.gaps.conftest import Rig, repair_of


def test_jobs_and_ledger_round_trip(tmp_path: Path) -> None:
    """A running job comes back queued; finished ones stay finished; spans come back as stored."""
    store = Store(tmp_path / "state.sqlite")
    store.open()
    jobs = [
        Job(
            "1", JobKind.REPAIR, "BTC", "1m", 0, 60_000, priority=STARTUP, state=JobState.RUNNING, fetched=3, expected=9
        ),
        Job("2", JobKind.USER, "BTC", "1h", 0, 3_600_000, priority=USER, state=JobState.DONE, fetched=2, expected=2),
    ]
    store.save_jobs(jobs)
    ledger = Ledger(window=5000)
    cov = ledger.market("BTC", "1m")
    cov.empty = [(0, 60_000)]
    cov.lost = [(120_000, 180_000)]
    cov.tentative = [((240_000, 240_000), 99)]
    store.save_market("BTC", "1m", cov)
    store.close()

    again = Store(tmp_path / "state.sqlite")
    again.open()
    loaded = {j.id: j for j in again.load_jobs()}
    assert loaded["1"].state == "queued"
    assert (loaded["1"].fetched, loaded["1"].expected) == (3, 9)
    assert loaded["2"].state == "done"
    assert again.next_id() == 3
    fresh = Ledger(window=5000)
    again.load_ledger(fresh)
    got = fresh.market("BTC", "1m")
    assert (got.empty, got.lost, got.tentative) == (cov.empty, cov.lost, cov.tentative)
    again.close()


def test_finished_jobs_are_pruned(tmp_path: Path) -> None:
    """Only the newest ``keep_finished`` finished jobs are kept."""
    store = Store(tmp_path / "state.sqlite", keep_finished=2)
    store.open()
    store.save_jobs([Job(str(i), JobKind.USER, "BTC", "1m", 0, 0, state=JobState.DONE) for i in range(1, 6)])
    assert [j.id for j in store.load_jobs()] == ["4", "5"]
    store.close()


def test_a_newer_state_file_is_refused(tmp_path: Path) -> None:
    """A file from a newer version is not touched; the message says what to do."""
    store = Store(tmp_path / "state.sqlite")
    store.open()
    store.conn.execute("UPDATE meta SET value='99' WHERE key='schema'")
    store.close()
    with pytest.raises(StateTooNew, match="schema 99"):
        Store(tmp_path / "state.sqlite").open()


@pytest.mark.anyio
async def test_saves_from_concurrent_worker_threads_all_land(tmp_path: Path) -> None:
    """The engine saves jobs and markets from worker threads at once; each save is whole."""
    store = Store(tmp_path / "state.sqlite", keep_finished=1000)
    store.open()
    ledger = Ledger(window=5000)

    async def save_job(i: int) -> None:
        job = Job(str(i), JobKind.USER, "BTC", "1m", 0, i, state=JobState.QUEUED)
        await anyio.to_thread.run_sync(store.save_jobs, [job])

    async def save_market(i: int) -> None:
        cov = ledger.market(f"C{i}", "1m")
        cov.empty = [(0, i * 60_000)]
        await anyio.to_thread.run_sync(store.save_market, f"C{i}", "1m", cov)

    async with anyio.create_task_group() as tg:
        for i in range(1, 101):
            tg.start_soon(save_job, i)
            tg.start_soon(save_market, i)
    assert sorted(int(j.id) for j in store.load_jobs()) == list(range(1, 101))
    fresh = Ledger(window=5000)
    store.load_ledger(fresh)
    assert all(fresh.market(f"C{i}", "1m").empty == [(0, i * 60_000)] for i in range(1, 101))
    store.close()


def _ledger_of(rig: Rig, db: str) -> Path:
    """Where gap repair keeps its state for a config whose sink is the SQLite file ``db``."""
    settings = rig.settings(sink={"use": "sqlite", "sqlite": {"path": str(rig.tmp / db)}})
    daemon = Daemon(settings, build_plugin_manager())
    daemon.build()
    try:
        sink = daemon.components["sqlite"]
        assert isinstance(sink, Sink)
        engine = repair_of(daemon).build_engine()  # what the component does when it starts
        store = engine.persist.store
        assert store is not None
        assert store.path == repair_of(daemon).state_path(sink)
        return store.path
    finally:
        daemon.close()


@pytest.mark.anyio
async def test_each_sink_keeps_its_own_ledger(rig: Rig) -> None:
    """Two configs with different sinks in one data_dir: the holes and losses of one database are
    never taken for the other's."""
    a, b, a_again = _ledger_of(rig, "a.db"), _ledger_of(rig, "b.db"), _ledger_of(rig, "a.db")
    assert a != b
    assert a == a_again
    assert a.parent == b.parent == rig.tmp / "data"


@pytest.mark.anyio
async def test_an_earlier_versions_ledger_is_moved_to_the_sinks_own(rig: Rig) -> None:
    """Upgrading: data_dir/backfill.sqlite (jobs, spans) becomes the sink's ledger, nothing lost."""
    legacy = rig.tmp / "data" / "backfill.sqlite"
    legacy.parent.mkdir(parents=True)
    store = Store(legacy)
    store.open()
    store.save_jobs([Job("7", JobKind.USER, "BTC", "1h", 0, 3_600_000, priority=USER, state=JobState.QUEUED)])
    store.close()
    path = _ledger_of(rig, "a.db")
    assert not legacy.exists()
    moved = Store(path)
    moved.open()
    assert [j.id for j in moved.load_jobs()] == ["7"]
    moved.close()
