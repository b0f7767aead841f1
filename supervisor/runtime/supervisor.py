"""The supervisor: runs every component as a child under its restart policy (one_for_one).

Each child lives in one task of the supervisor's task group. A crash or return is handled by
the child's :class:`~candlewick.runtime.policy.RestartPolicy`; a child that exceeds its restart
intensity becomes ``failed`` while the others keep running. A failed critical child calls
``on_fatal`` so the daemon can stop with a non-zero exit.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from candlewick.plugin import Component
from candlewick.runtime import names
from candlewick.runtime.clock import Clock
from candlewick.runtime.policy import ChildState, RestartPolicy, RestartTracker
from candlewick.runtime.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The last error of a child."""

    type: str
    message: str
    time: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "time": self.time}


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class _Started(TaskStatus[None]):
    """The ``task_status`` a child receives: ``started()`` marks it running."""

    def __init__(self, child: Child) -> None:
        self._child = child

    def started(self, value: None = None) -> None:
        self._child._running()


class Child:
    """One supervised component and its bookkeeping."""

    def __init__(self, sup: Supervisor, component: Component, policy: RestartPolicy) -> None:
        self._sup = sup
        self.component = component
        self.name = component.name
        self.kind: str = component.kind
        self.policy = policy
        self.tracker = RestartTracker(policy)
        self.state = ChildState.STOPPED
        self.restarts = 0
        self.last_error: ErrorInfo | None = None
        self.running_since: float | None = None
        self.done: anyio.Event | None = None  # created per run, inside the event loop
        self.active = False
        self._scope: anyio.CancelScope | None = None
        self._stop_requested = False
        self._restart_requested = False
        self._last_exc: BaseException | None = None
        self._changed: anyio.Event | None = None  # created by a waiter, inside the event loop

    # -- views -------------------------------------------------------------------------------

    def uptime(self) -> float | None:
        """Seconds since the child last became ``running`` (None when not running)."""
        if self.running_since is None:
            return None
        return self._sup.clock.monotonic() - self.running_since

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "state": str(self.state),
            "restarts": self.restarts,
            "last_error": self.last_error.to_json() if self.last_error else None,
            "uptime": self.uptime(),
            "critical": self.policy.critical,
            "restart": str(self.policy.restart),
            **self.component.describe(),
        }

    # -- transitions -------------------------------------------------------------------------

    def _set(self, state: ChildState, note: str = "") -> None:
        old, self.state = self.state, state
        if old == state:
            return
        self._notify()
        if state is not ChildState.RUNNING:
            self.running_since = None
        self._sup.telemetry.metrics.gauge(names.COMPONENT_UP, "1 while the component is running", ("component",)).set(
            1.0 if state is ChildState.RUNNING else 0.0, component=self.name
        )
        level = logging.WARNING if state in (ChildState.FAILED, ChildState.BACKING_OFF) else logging.INFO
        log.log(level, "%s %s: %s -> %s%s", self.kind, self.name, old, state, f" ({note})" if note else "")
        self._sup.telemetry.publish(
            names.EV_STATE, self.name, f"{self.name} {state}" + (f": {note}" if note else ""),
            state=str(state), previous=str(old), component_kind=self.kind,
        )  # fmt: skip

    def _running(self) -> None:
        self._set(ChildState.RUNNING)
        self.running_since = self._sup.clock.monotonic()

    def _record_error(self, exc: BaseException) -> None:
        leaf = self._last_exc = _leaf(exc)
        self.last_error = ErrorInfo(type(leaf).__name__, str(leaf) or repr(leaf), self._sup.clock.time())
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s crashed:\n%s", self.name, "".join(traceback.format_exception(exc)))

    # -- control -----------------------------------------------------------------------------

    async def wait(self) -> None:
        """Return once the child's supervision loop has ended (at once if it is not running)."""
        if self.active and self.done is not None:
            await self.done.wait()

    async def wait_running(self) -> bool:
        """Wait until the component is ready (True) or its supervision has ended, stopped or failed (False).

        A child added but not yet started is waited for; restarts after a crash are waited through.
        """
        while self.state is not ChildState.RUNNING:
            if self.done is not None and self.done.is_set():
                return False
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()
        return True

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def request_stop(self) -> None:
        self._stop_requested = True
        if self.active and self.state is not ChildState.STOPPED:
            self._set(ChildState.STOPPING)
        if self._scope is not None:
            self._scope.cancel()

    def request_restart(self) -> None:
        self._restart_requested = True
        if self._scope is not None:
            self._scope.cancel()

    # -- the loop ----------------------------------------------------------------------------

    async def supervise(self) -> None:
        """Run, watch and restart the component until stopped, failed or shut down."""
        self.active = True
        self.done = done = anyio.Event()
        try:
            while True:
                self._set(ChildState.STARTING)
                started = self._sup.clock.monotonic()
                crashed = await self._run_once()
                if self._stopping():
                    self._set(ChildState.STOPPED)
                    return
                if self._restart_requested:
                    self._restart_requested = False
                    self._count_restart()
                    continue
                if not self._may_restart(crashed, started):
                    return
                await self._back_off(crashed)
                if self._stopping():
                    self._set(ChildState.STOPPED)
                    return
                self._restart_requested = False
                self._count_restart()
        finally:
            self.active = False
            self._scope = None
            if self.state not in (ChildState.STOPPED, ChildState.FAILED):
                self._set(ChildState.STOPPED)
            done.set()
            self._notify()

    async def _run_once(self) -> bool:
        """Run the component once in a cancellable scope; return whether it crashed."""
        crashed = False
        self._last_exc = None
        with anyio.CancelScope() as scope:
            self._scope = scope
            try:
                await self.component.run(task_status=_Started(self))
            except Exception as exc:
                crashed = True
                self._record_error(exc)
        self._scope = None
        return crashed

    def _may_restart(self, crashed: bool, started: float) -> bool:
        """Apply the restart policy to an exit; on ``False`` the child is already FAILED or STOPPED."""
        sup = self._sup
        if crashed and not getattr(self._last_exc, "retryable", True):
            # Restarting cannot fix it (bad config, schema too new): fail now, no crash loop.
            self._set(ChildState.FAILED, self._error_note())
            sup._child_failed(self)
            return False
        if not self.policy.should_restart(crashed=crashed):
            self._set(ChildState.FAILED if crashed else ChildState.STOPPED, self._error_note())
            if crashed:
                sup._child_failed(self)
            return False
        now = sup.clock.monotonic()
        self.tracker.child_exited(up_for=now - started)
        if not self.tracker.allow_restart(now):
            self._set(
                ChildState.FAILED,
                f"more than {self.policy.max_restarts} restarts in {self.policy.within:g}s"
                + (f"; last error {self._error_note()}" if self.last_error else ""),
            )
            sup._child_failed(self)
            return False
        return True

    async def _back_off(self, crashed: bool) -> None:
        """Wait the tracker's next delay in BACKING_OFF; a stop or restart request cuts it short."""
        delay = self.tracker.next_delay()
        self._set(ChildState.BACKING_OFF, f"retry in {delay:.1f}s" + self._error_suffix(crashed))
        with anyio.CancelScope() as scope:
            self._scope = scope
            await self._sup.clock.sleep(delay)
        self._scope = None

    def _stopping(self) -> bool:
        """A stop was requested (by an operator or the daemon's shutdown)."""
        return self._stop_requested or self._sup.shutting_down

    def _count_restart(self) -> None:
        """Count one restart on the child and in the restarts metric."""
        self.restarts += 1
        self._sup.telemetry.metrics.counter(names.COMPONENT_RESTARTS, "Restarts of each component", ("component",)).inc(
            component=self.name
        )

    def _error_note(self) -> str:
        e = self.last_error
        return f"{e.type}: {e.message}" if e else ""

    def _error_suffix(self, crashed: bool) -> str:
        return f" after {self._error_note()}" if crashed and self.last_error else " after a normal exit"


class Supervisor:
    """Owns the children and their task group."""

    def __init__(
        self,
        telemetry: Telemetry,
        *,
        clock: Clock | None = None,
        on_fatal: Callable[[Child], None] | None = None,
    ) -> None:
        self.telemetry = telemetry
        self.clock: Clock = clock or telemetry.clock
        self.children: dict[str, Child] = {}
        self.shutting_down = False
        self._on_fatal = on_fatal
        self._tg: TaskGroup | None = None
        self.fatal: Child | None = None

    def add(self, component: Component, policy: RestartPolicy | None = None) -> Child:
        """Register a component; it starts when :meth:`run` does (or at once if running)."""
        if component.name in self.children:
            raise ValueError(f"a component named {component.name!r} is already supervised")
        child = Child(self, component, policy or RestartPolicy())
        self.children[child.name] = child
        if self._tg is not None:
            self._tg.start_soon(child.supervise, name=f"child:{child.name}")
        return child

    def child(self, name: str) -> Child:
        try:
            return self.children[name]
        except KeyError:
            raise KeyError(f"no component named {name!r} (have: {', '.join(self.children) or 'none'})") from None

    def of_kind(self, *kinds: str) -> list[Child]:
        return [c for c in self.children.values() if c.kind in kinds]

    def _child_failed(self, child: Child) -> None:
        if child.policy.critical and self.fatal is None:
            self.fatal = child
            log.error("critical component %s failed; stopping the daemon", child.name)
            if self._on_fatal is not None:
                self._on_fatal(child)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start every child and supervise until cancelled."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for child in self.children.values():
                tg.start_soon(child.supervise, name=f"child:{child.name}")
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                self._tg = None

    # -- operator commands -------------------------------------------------------------------

    async def stop(self, name: str, *, timeout: float = 10.0) -> None:
        """Stop one child and wait until it has stopped."""
        child = self.child(name)
        child.request_stop()
        with anyio.move_on_after(timeout):
            await child.wait()

    def start(self, name: str) -> None:
        """Start a stopped or failed child again, with a fresh restart history."""
        child = self.child(name)
        if child.active:
            return
        if self._tg is None:
            raise RuntimeError("the supervisor is not running")
        child._stop_requested = False
        child.tracker.reset()
        self._tg.start_soon(child.supervise, name=f"child:{child.name}")

    async def restart(self, name: str) -> None:
        """Restart one child now (no backoff); starts it if it was stopped or failed."""
        child = self.child(name)
        if child.active:
            child.request_restart()
        else:
            self.start(name)

    # -- shutdown ----------------------------------------------------------------------------

    async def stop_all(self, children: Iterable[Child]) -> None:
        """Cancel the given children and wait for each to finish."""
        children = list(children)
        for child in children:
            child.request_stop()
        for child in children:
            await child.wait()

    async def wait_finished(self, children: Iterable[Child]) -> None:
        """Wait until the given children return by themselves (a buffer draining)."""
        for child in list(children):
            await child.wait()

    def begin_shutdown(self) -> None:
        """From now on nothing restarts."""
        self.shutting_down = True
