"""The markets listing's short-lived cache: reused while fresh, one fetch for concurrent callers."""

from __future__ import annotations

import anyio
import pytest

from candlewick.web.cache import Recent

pytestmark = pytest.mark.anyio


class Counting:
    def __init__(self, *, delay: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail

    async def __call__(self) -> list[int]:
        self.calls += 1
        await anyio.sleep(self.delay)
        if self.fail:
            raise OSError("the store is down")
        return [self.calls]


async def test_a_fresh_answer_is_reused_and_a_stale_one_fetched_again() -> None:
    fetch = Counting()
    recent = Recent(fetch, ttl=0.05)
    assert await recent.get() == [1]
    assert await recent.get() == [1]
    await anyio.sleep(0.06)
    assert await recent.get() == [2]
    recent.forget()
    assert await recent.get() == [3]


async def test_concurrent_callers_share_one_fetch() -> None:
    fetch = Counting(delay=0.02)
    recent = Recent(fetch, ttl=10)
    answers: list[list[int]] = []

    async def ask() -> None:
        answers.append(await recent.get())

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(ask)
    assert answers == [[1]] * 5
    assert fetch.calls == 1


async def test_a_failed_fetch_is_not_kept() -> None:
    fetch = Counting(fail=True)
    recent = Recent(fetch, ttl=10)
    with pytest.raises(OSError, match="down"):
        await recent.get()
    fetch.fail = False
    assert await recent.get() == [2]
