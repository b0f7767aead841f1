"""Gap repair's state file, from async code: the blocking :class:`Store` run in worker threads.

Without a state file (``path`` None) every call does nothing: jobs and the ledger live in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio

from candlewick.gaps.jobs import Job
from candlewick.gaps.ledger import Ledger
from candlewick.gaps.store import Store

__all__ = ["Persistence"]


class Persistence:
    """Loads and saves the jobs and the ledger of one engine."""

    def __init__(self, path: Path | None, ledger: Ledger) -> None:
        self.store = Store(path) if path is not None else None
        self.ledger = ledger

    async def open(self) -> tuple[list[Job], int]:
        """Open the file, load the ledger; returns the stored jobs and the next free job id."""
        store = self.store
        if store is None:
            return [], 1
        await anyio.to_thread.run_sync(store.open)
        await anyio.to_thread.run_sync(store.load_ledger, self.ledger)
        jobs = await anyio.to_thread.run_sync(store.load_jobs)
        return jobs, await anyio.to_thread.run_sync(store.next_id)

    async def close(self, jobs: Sequence[Job]) -> None:
        """Save ``jobs`` and close the file, even when cancelled."""
        if self.store is not None:
            with anyio.CancelScope(shield=True):
                await self.jobs(jobs)
                await anyio.to_thread.run_sync(self.store.close)

    async def jobs(self, jobs: Sequence[Job]) -> None:
        if self.store is not None and jobs:
            await anyio.to_thread.run_sync(self.store.save_jobs, list(jobs))

    async def market(self, coin: str, interval: str) -> None:
        """Save the ledger entries of one market."""
        if self.store is not None:
            await anyio.to_thread.run_sync(self.store.save_market, coin, interval, self.ledger.market(coin, interval))
