"""Durable state of gap repair: pending jobs and the coverage ledger, in one small SQLite file.

Blocking calls; the async side runs them with ``anyio.to_thread.run_sync``, possibly several at
once, so every call holds the store's lock (one connection, one transaction at a time). The file lives in
``[daemon] data_dir`` (``backfill.sqlite``) so queued jobs, confirmed-empty spans and
permanent losses survive a restart. A job that was running when the daemon stopped is queued
again; finished jobs are kept for ``keep_finished`` rows.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from candlewick.errors import CandlewickError
from candlewick.gaps.jobs import Job, JobKind, JobState
from candlewick.gaps.ledger import Ledger, MarketCoverage
from candlewick.runtime.writable import sqlite_files

__all__ = ["FILENAME", "SCHEMA_VERSION", "Store", "adopt_legacy", "read_spans", "state_filename"]

FILENAME = "backfill.sqlite"
SCHEMA_VERSION = 1
KEEP_FINISHED = 200


def adopt_legacy(legacy: Path, path: Path) -> bool:
    """Rename ``legacy`` (and its WAL and journal) to ``path`` if ``path`` does not exist yet."""
    if path.exists() or not legacy.exists():
        return False
    for old, new in zip(sqlite_files(legacy)[1:], sqlite_files(path)[1:], strict=True):
        if old.exists():
            old.rename(new)
    legacy.rename(path)
    return True


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL, coin TEXT NOT NULL, interval TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, priority INTEGER NOT NULL,
    state TEXT NOT NULL, fetched INTEGER NOT NULL, expected INTEGER NOT NULL, error TEXT,
    created REAL NOT NULL, finished REAL, horizon INTEGER NOT NULL, not_before REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    coin TEXT NOT NULL, interval TEXT NOT NULL, what TEXT NOT NULL,
    first INTEGER NOT NULL, last INTEGER NOT NULL, due INTEGER
);
CREATE INDEX IF NOT EXISTS spans_market ON spans (coin, interval);
"""


def state_filename(sink_state_key: str) -> str:
    """The default state file of one sink and database: ``backfill-<sink>-<digest>.sqlite``."""
    return f"backfill-{sink_state_key}.sqlite"


def read_spans(path: Path, coin: str, interval: str) -> dict[str, list[tuple[int, int]]]:
    """The ledger's spans of one market by kind (``empty``, ``lost``, ``tentative``), read-only.

    For readers outside gap repair (coverage reports): never creates the file; a missing file
    or table means no entries.
    """
    out: dict[str, list[tuple[int, int]]] = {"empty": [], "lost": [], "tentative": []}
    if not path.exists():
        return out
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        rows = conn.execute(
            "SELECT what, first, last FROM spans WHERE coin=? AND interval=? ORDER BY first", (coin, interval)
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return out
        raise
    finally:
        conn.close()
    for what, first, last in rows:
        out.setdefault(what, []).append((int(first), int(last)))
    return out


class StateTooNew(CandlewickError):
    """The backfill state file was written by a newer candlewick."""

    title = "Backfill state written by a newer version"


class Store:
    """The SQLite file holding jobs and ledger entries."""

    def __init__(self, path: Path, *, keep_finished: int = KEEP_FINISHED) -> None:
        self.path = path
        self.keep_finished = keep_finished
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside BEGIN ... COMMIT (ROLLBACK on error), held by this thread alone."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise StateTooNew(
                    f"{self.path} has schema {row[0]}, this version knows {SCHEMA_VERSION}",
                    hint="upgrade candlewick, or move the file away to start with an empty job queue",
                )
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.path} is not open")
        return self._conn

    # -- jobs --------------------------------------------------------------------------------

    def load_jobs(self) -> list[Job]:
        """Every stored job; one that was running is queued again."""
        with self._lock:
            rows = self.conn.execute(
                'SELECT id, kind, coin, interval, start, "end", priority, state, fetched, expected, error,'
                " created, finished, horizon, not_before FROM jobs ORDER BY id"
            ).fetchall()
        jobs = []
        for r in rows:
            state = JobState(r[7])
            job = Job(
                id=str(r[0]), kind=JobKind(r[1]), coin=r[2], interval=r[3], start=r[4], end=r[5],
                priority=r[6], state=JobState.QUEUED if state is JobState.RUNNING else state, fetched=r[8],
                expected=r[9], error=r[10], created=r[11], finished=r[12], horizon=r[13], not_before=r[14],
            )  # fmt: skip
            jobs.append(job)
        return jobs

    def next_id(self) -> int:
        with self._lock:
            row = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()
        return int(row[0]) + 1

    def save_jobs(self, jobs: list[Job]) -> None:
        """Upsert jobs (new or changed) and prune old finished ones."""
        with self._transaction() as conn:
            conn.executemany(
                'INSERT OR REPLACE INTO jobs (id, kind, coin, interval, start, "end", priority, state, fetched,'
                " expected, error, created, finished, horizon, not_before) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [_job_row(j) for j in jobs],
            )
            conn.execute(
                "DELETE FROM jobs WHERE state IN ('done','failed','cancelled') AND id NOT IN"
                " (SELECT id FROM jobs WHERE state IN ('done','failed','cancelled') ORDER BY id DESC LIMIT ?)",
                (self.keep_finished,),
            )

    # -- ledger ------------------------------------------------------------------------------

    def load_ledger(self, ledger: Ledger) -> None:
        with self._lock:
            rows = self.conn.execute(
                "SELECT coin, interval, what, first, last, due FROM spans ORDER BY coin, interval, first"
            ).fetchall()
        for coin, interval, what, first, last, due in rows:
            cov = ledger.market(coin, interval)
            if what == "empty":
                cov.empty.append((first, last))
            elif what == "lost":
                cov.lost.append((first, last))
            elif what == "tentative":
                cov.tentative.append(((first, last), int(due or 0)))

    def save_market(self, coin: str, interval: str, cov: MarketCoverage) -> None:
        """Replace the stored entries of one market."""
        rows: list[tuple[Any, ...]] = [(coin, interval, "empty", a, b, None) for a, b in cov.empty]
        rows += [(coin, interval, "lost", a, b, None) for a, b in cov.lost]
        rows += [(coin, interval, "tentative", a, b, due) for (a, b), due in cov.tentative]
        with self._transaction() as conn:
            conn.execute("DELETE FROM spans WHERE coin=? AND interval=?", (coin, interval))
            conn.executemany("INSERT INTO spans VALUES (?,?,?,?,?,?)", rows)


def _job_row(j: Job) -> tuple[Any, ...]:
    return (
        int(j.id), j.kind.value, j.coin, j.interval, j.start, j.end, j.priority, j.state.value, j.fetched, j.expected,
        j.error, j.created, j.finished, j.horizon, j.not_before,
    )  # fmt: skip
