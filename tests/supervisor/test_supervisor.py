"""The supervisor's restart policies, intensity, operator commands and failure handling."""

from __future__ import annotations

import random

import anyio
import pytest
from anyio.abc import TaskStatus

from candlewick.plugin import Component
from candlewick.runtime.clock import ManualClock
from candlewick.runtime.policy import ChildState, RestartPolicy, RestartType
from candlewick.runtime.supervisor import Child, Supervisor
from candlewick.runtime.telemetry import Telemetry
from tests.supervisor.helpers import (
    Scripted,
    context,
    crash_at_once,
    crash_before_ready,
    return_at_once,
    run_forever,
)

pytestmark = pytest.mark.anyio


def make(sup: Supervisor, name: str, body, policy: RestartPolicy | None = None, kind: str = "source") -> Child:
    comp = Scripted(context(name, sup.clock, sup.telemetry), kind, body)  # type: ignore[arg-type]
    child = sup.add(comp, policy or RestartPolicy())
    child.tracker.rng = random.Random(7)
    return child


def scripted(child: Child) -> Scripted:
    assert isinstance(child.component, Scripted)
    return child.component


def state_of(child: Child) -> ChildState:
    """The child's state, read fresh (other tasks change it between asserts)."""
    return child.state


async def settle() -> None:
    for _ in range(50):
        await anyio.lowlevel.checkpoint()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sup(clock: ManualClock) -> Supervisor:
    return Supervisor(Telemetry(clock))


async def test_running_child_reports_state_and_uptime(sup: Supervisor, clock: ManualClock) -> None:
    """A child that called started() is running, and its uptime follows the clock."""
    child = make(sup, "a", run_forever)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        assert state_of(child) is ChildState.RUNNING
        await clock.advance(5)
        assert child.uptime() == pytest.approx(5)
        status = child.status()
        assert status["state"] == "running"
        assert status["restarts"] == 0
        assert status["last_error"] is None
        tg.cancel_scope.cancel()


async def test_crash_loop_backs_off_then_fails_while_others_run(sup: Supervisor, clock: ManualClock) -> None:
    """A crash loop backs off with jitter, then past the intensity limit is failed; siblings keep running."""
    policy = RestartPolicy(backoff_initial=1, backoff_factor=2, backoff_max=8, max_restarts=3, within=600)
    crasher = make(sup, "crasher", crash_at_once, policy)
    steady = make(sup, "steady", run_forever)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        assert state_of(crasher) is ChildState.BACKING_OFF
        assert crasher.last_error is not None
        assert (crasher.last_error.type, crasher.last_error.message) == ("RuntimeError", "boom")
        for _ in range(3):
            await clock.advance(8)  # past any jittered delay (cap 8)
        await settle()
        assert state_of(crasher) is ChildState.FAILED
        assert crasher.restarts == 3
        assert scripted(crasher).starts == 4
        assert state_of(steady) is ChildState.RUNNING
        await clock.advance(100)
        assert scripted(crasher).starts == 4, "a failed child is not restarted"
        tg.cancel_scope.cancel()
    assert sup.telemetry.metrics.value("candlewick_component_restarts_total", component="crasher") == 3


async def test_backoff_delays_grow_and_stay_within_full_jitter(sup: Supervisor, clock: ManualClock) -> None:
    """Each restart waits uniform(0, min(max, initial*factor**n)); it does not restart before that."""
    policy = RestartPolicy(backoff_initial=10, backoff_factor=2, backoff_max=15, max_restarts=100, within=1)
    child = make(sup, "c", crash_before_ready, policy)
    expected = random.Random(7)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        for ceiling in (10, 15, 15):
            delay = expected.uniform(0, ceiling)
            starts = scripted(child).starts
            await clock.advance(delay * 0.9)
            assert scripted(child).starts == starts, "restarted before its backoff delay"
            await clock.advance(delay * 0.1 + 0.05)
            await settle()
            assert scripted(child).starts == starts + 1
        tg.cancel_scope.cancel()


async def test_backoff_resets_only_after_staying_up(sup: Supervisor, clock: ManualClock) -> None:
    """A child that stayed up for reset_after starts its backoff over; one that did not keeps growing."""
    policy = RestartPolicy(backoff_initial=1, backoff_factor=10, backoff_max=1000, reset_after=30, max_restarts=99)
    crash_now = anyio.Event()

    async def body(component: Component, task_status: TaskStatus[None]) -> None:
        task_status.started()
        await crash_now.wait()
        raise OSError("link down")

    child = make(sup, "c", body, policy)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        crash_now.set()
        await settle()
        assert child.tracker.attempt == 1
        crash_now = anyio.Event()
        await clock.advance(1)  # ceiling 1: restarted
        await settle()
        assert state_of(child) is ChildState.RUNNING
        await clock.advance(31)  # stays up longer than reset_after
        crash_now.set()
        await settle()
        assert child.tracker.attempt == 1, "backoff starts over after a stable run"
        tg.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("restart", "body", "final", "restarted"),
    [
        (RestartType.PERMANENT, return_at_once, None, True),
        (RestartType.TRANSIENT, return_at_once, ChildState.STOPPED, False),
        (RestartType.TRANSIENT, crash_at_once, None, True),
        (RestartType.TEMPORARY, crash_at_once, ChildState.FAILED, False),
        (RestartType.TEMPORARY, return_at_once, ChildState.STOPPED, False),
    ],
)
async def test_restart_types_follow_otp(
    sup: Supervisor, clock: ManualClock, restart: RestartType, body, final, restarted: bool
) -> None:
    """permanent always restarts, transient only after a crash, temporary never."""
    child = make(sup, "c", body, RestartPolicy(restart=restart, backoff_initial=0.1, max_restarts=99))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        await clock.advance(1)
        await settle()
        assert (scripted(child).starts > 1) is restarted
        if final is not None:
            assert state_of(child) is final
        tg.cancel_scope.cancel()


async def test_failed_critical_child_calls_on_fatal(clock: ManualClock) -> None:
    """A critical child that fails reports itself to the daemon (which exits non-zero)."""
    fatal: list[str] = []
    sup = Supervisor(Telemetry(clock), on_fatal=lambda c: fatal.append(c.name))
    make(sup, "db", crash_at_once, RestartPolicy(max_restarts=0, critical=True))
    make(sup, "other", crash_at_once, RestartPolicy(max_restarts=0))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        tg.cancel_scope.cancel()
    assert fatal == ["db"]
    assert sup.fatal is not None
    assert sup.fatal.name == "db"


async def test_operator_stop_start_and_restart(sup: Supervisor, clock: ManualClock) -> None:
    """stop stops for good, start brings it back, restart restarts at once without backoff."""
    child = make(sup, "c", run_forever)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        await sup.stop("c")
        assert state_of(child) is ChildState.STOPPED
        await clock.advance(100)
        assert scripted(child).starts == 1
        sup.start("c")
        await settle()
        assert state_of(child) is ChildState.RUNNING
        assert scripted(child).starts == 2
        await sup.restart("c")
        await settle()
        assert state_of(child) is ChildState.RUNNING
        assert scripted(child).starts == 3
        assert child.restarts == 1
        with pytest.raises(KeyError, match="no component named 'nope'"):
            await sup.stop("nope")
        tg.cancel_scope.cancel()


async def test_restart_during_backoff_skips_the_wait(sup: Supervisor, clock: ManualClock) -> None:
    """An operator restart of a backing-off child starts it now."""
    child = make(sup, "c", crash_before_ready, RestartPolicy(backoff_initial=1000, backoff_max=1000))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        assert state_of(child) is ChildState.BACKING_OFF
        await sup.restart("c")
        await settle()
        assert scripted(child).starts == 2
        tg.cancel_scope.cancel()


async def test_state_changes_are_published_as_events(sup: Supervisor, clock: ManualClock) -> None:
    """Every state change becomes an event in the one registry."""
    make(sup, "c", crash_at_once, RestartPolicy(max_restarts=0))
    with sup.telemetry.events.subscribe() as sub:
        async with anyio.create_task_group() as tg:
            await tg.start(sup.run)
            await settle()
            tg.cancel_scope.cancel()
        states = []
        while True:
            try:
                states.append(sub.receive.receive_nowait().data["state"])
            except anyio.WouldBlock:
                break
    assert states[:3] == ["starting", "running", "failed"]


async def test_child_that_swallows_cancellation_is_still_stopped(sup: Supervisor, clock: ManualClock) -> None:
    """A child that catches the cancellation and returns is recorded as stopped, not restarted."""

    async def stubborn(component: Component, task_status: TaskStatus[None]) -> None:
        task_status.started()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            return  # swallowed

    child = make(sup, "c", stubborn)
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        await settle()
        await sup.stop("c")
        assert state_of(child) is ChildState.STOPPED
        assert scripted(child).starts == 1
        tg.cancel_scope.cancel()


async def test_wait_running_waits_through_restarts_until_ready(sup: Supervisor, clock: ManualClock) -> None:
    """A child added before the supervisor runs is waited for, its crashes before ready waited through."""
    attempts = 0

    async def ready_on_third_try(component: Component, task_status: TaskStatus[None]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionRefusedError("refused")
        task_status.started()
        await anyio.sleep_forever()

    child = make(sup, "late", ready_on_third_try, RestartPolicy(backoff_initial=1, backoff_max=1))
    ready: list[bool] = []
    async with anyio.create_task_group() as tg:

        async def _wait() -> None:
            ready.append(await child.wait_running())

        tg.start_soon(_wait)
        await tg.start(sup.run)
        await settle()
        assert (ready, attempts, state_of(child)) == ([], 1, ChildState.BACKING_OFF)
        for _ in range(4):
            await clock.advance(2)
            await settle()
        assert (ready, attempts, state_of(child)) == ([True], 3, ChildState.RUNNING)
        tg.cancel_scope.cancel()


async def test_wait_running_is_false_once_the_child_has_failed(sup: Supervisor) -> None:
    child = make(sup, "doomed", crash_before_ready, RestartPolicy(restart=RestartType.TEMPORARY))
    async with anyio.create_task_group() as tg:
        await tg.start(sup.run)
        with anyio.fail_after(5):
            assert await child.wait_running() is False
        assert state_of(child) is ChildState.FAILED
        tg.cancel_scope.cancel()
