"""A real daemon inside a test's own task, for the length of a block.

::

    daemon = Daemon(settings, build_plugin_manager(), services=default_services())
    daemon.build()
    async with running_daemon(daemon, until_running=True):
        ...  # talk to it: control socket, web API, the store

The block starts once the daemon has started its children (``until_running`` also waits until
every one of them runs); leaving it asks the daemon to shut down and waits for the end of its
run, so a test never leaves a daemon behind. It runs on asyncio and trio alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import TaskStatus

from candlewick.runtime.daemon import Daemon
from candlewick.runtime.policy import ChildState

__all__ = ["running_daemon", "wait_running"]


@asynccontextmanager
async def running_daemon(
    daemon: Daemon, *, until_running: bool = False, ready_timeout: float = 10.0, stop_timeout: float = 30.0
) -> AsyncIterator[Daemon]:
    """Run a built ``daemon`` (signals left alone) until the block ends, then shut it down.

    ``until_running`` waits, within ``ready_timeout`` seconds, until every child runs; the
    shutdown must end within ``stop_timeout`` seconds (``TimeoutError`` otherwise). An exception
    from the block comes out as itself, after the daemon stopped, not inside an exception group.
    """
    done = anyio.Event()

    async def run(*, task_status: TaskStatus[None]) -> None:
        try:
            await daemon.run(task_status=task_status, signals=False)
        finally:
            done.set()

    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(run)
        try:
            if until_running:
                await wait_running(daemon, timeout=ready_timeout)
            yield daemon
        except Exception as exc:  # raised below, unwrapped, once the daemon has stopped
            failure = exc
        finally:
            daemon.request_shutdown("test over")
            with anyio.fail_after(stop_timeout):
                await done.wait()
    if failure is not None:
        raise failure


async def wait_running(daemon: Daemon, *names: str, timeout: float = 10.0) -> None:
    """Wait until the named children (default: every one) run; ``TimeoutError`` after ``timeout`` seconds."""
    children = daemon.supervisor.children
    wanted = names or tuple(children)
    with anyio.fail_after(timeout):
        # Child states change without a notification to wait on; a test can afford to poll.
        while not all(children[name].state is ChildState.RUNNING for name in wanted):  # noqa: ASYNC110
            await anyio.sleep(0.01)
