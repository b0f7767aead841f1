"""The daemon: builds components from config and plugins, supervises them, shuts down in order.

Data path: sources -> bounded candle stream -> buffer -> sink. Graceful shutdown (SIGTERM,
SIGINT, ``shutdown`` over the control socket): sources stop first, the candle stream is
closed so the buffer drains into the sink and returns, then sinks and services stop. After
``[daemon] shutdown_timeout`` what remains is cancelled.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from candlewick._version import __version__
from candlewick.config import Settings
from candlewick.errors import BackendNotSupported, CandlewickError, ConfigError, PluginError
from candlewick.model import Candle
from candlewick.plugin import CandleOutlet, Component, ComponentContext, ComponentSpec, Kind, Service, Sink, Source
from candlewick.pluginmanager import PluginHooks
from candlewick.runtime import names
from candlewick.runtime.blockwatch import BlockWatch
from candlewick.runtime.builder import OnlySources, Planned, plan_components
from candlewick.runtime.clock import Clock, SystemClock
from candlewick.runtime.policy import RestartPolicy
from candlewick.runtime.supervisor import Child, Supervisor
from candlewick.runtime.telemetry import Fanout, Telemetry
from candlewick.runtime.writable import check_writable

if TYPE_CHECKING:
    from candlewick.control.methods import ServiceHost

log = logging.getLogger(__name__)

#: After the shutdown deadline, children get this long to honour cancellation before the
#: process exits regardless (a child that ignores cancellation must not hang a container stop).
KILL_GRACE = 3.0
EXIT_OK = 0
EXIT_FAILED = 1


@dataclass
class ServiceFactory:
    """A daemon-owned child (control server, metrics) built once the components exist.

    ``build`` returns the service, or ``None`` when the config leaves it off; it adds nothing
    to the daemon itself.
    """

    build: Callable[[ServiceHost], Service | None]
    policy: RestartPolicy = field(default_factory=RestartPolicy)


class Daemon:
    """One running candlewick: settings, plugins, telemetry, supervisor and the data path."""

    def __init__(
        self,
        settings: Settings,
        hooks: PluginHooks,
        *,
        clock: Clock | None = None,
        backend: str | None = None,
        services: Sequence[ServiceFactory] = (),
    ) -> None:
        self.settings = settings
        self.hooks = hooks
        self.clock: Clock = clock or SystemClock()
        self.backend = backend or settings.daemon.backend
        self.telemetry = Telemetry(self.clock)
        self.supervisor = Supervisor(self.telemetry, on_fatal=self._fatal)
        self.version = __version__
        self.pid = os.getpid()
        self.started_at = self.clock.time()
        self.data_dir = settings.daemon.data_path()
        self.components: dict[str, Component] = {}
        self.exit_code = EXIT_OK
        self._stop: anyio.Event | None = None  # created inside the event loop by run()
        self._stop_reason: str | None = None
        self._services = list(services)
        send, receive = anyio.create_memory_object_stream[Candle](max_buffer_size=settings.daemon.queue_size)
        self._candle_send: MemoryObjectSendStream[Candle] = send
        self._candle_receive: MemoryObjectReceiveStream[Candle] = receive
        #: Every candle the sources send, for live readers (the web stream); costs nothing unsubscribed.
        self.live = Fanout[Candle]()
        self.outlet = CandleOutlet(send, live=self.live)
        threshold = settings.daemon.block_warning_ms / 1000
        #: Warns, naming the plugin, when code holds the event loop past ``[daemon] block_warning_ms``.
        self.blockwatch = BlockWatch(threshold, hooks.module_owners()) if threshold > 0 else None

    @property
    def config_path(self) -> Path | None:
        return self.settings.source_path

    # -- building ----------------------------------------------------------------------------

    def build(self, *, dry_run: bool = False, only_sources: OnlySources | None = None) -> None:
        """Create the components :func:`~candlewick.runtime.builder.plan_components` plans, then
        the services; raises ConfigError early.

        ``dry_run`` (``check-config``) builds the components only: no directory is created or
        checked, no service is built. ``only_sources`` builds just those sources (with those
        options over their own tables) beside the sink and buffer: a one-shot run.
        """
        if not dry_run:
            check_writable([self.data_dir], home=self.data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
        for item in plan_components(self.settings, self.hooks, only=only_sources):
            self._check_backend(item.spec)
            component = self._construct(item)
            self.add(component, self.settings.restart_policy(item.name, item.spec.restart))
        if dry_run:
            return
        for factory in self._services:
            service = factory.build(self)
            if service is not None:
                self.add(service, self.settings.restart_policy(service.name, factory.policy))
        writes = [path for component in self.components.values() for path in component.writes()]
        check_writable(writes, home=self.data_dir)

    def _construct(self, item: Planned) -> Component:
        """Call the spec's factory; a factory that raises or builds the wrong thing names its plugin."""
        owner = self.hooks.owners.get((item.kind, item.name), "?")
        where = f"{item.key}: the factory of {item.kind} {item.name!r} (plugin {owner!r})"
        try:
            component = item.spec.factory(self.context(item.name, item.config, kind=item.kind))
        except CandlewickError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{where} raised {type(exc).__name__}: {exc}",
                hint=f"fix the plugin, or set CANDLEWICK_DISABLE_PLUGINS={owner} and remove [{item.key}]",
            ) from exc
        expected = f"candlewick.plugin.{item.kind.capitalize()}"
        if not isinstance(component, Component) or component.kind != item.kind:
            got = f"a {component.kind}" if isinstance(component, Component) else type(component).__name__
            raise PluginError(f"{where} returned {got}, expected an instance of a {expected} subclass")
        return component

    def config_warnings(self) -> list[str]:
        """What the sinks say of their settings, given the intervals the sources follow."""
        intervals = {interval for c in self.of_kind("source") if isinstance(c, Source) for _, interval in c.markets()}
        return [w for c in self.of_kind("sink") if isinstance(c, Sink) for w in c.config_warnings(intervals)]

    def _check_backend(self, spec: ComponentSpec) -> None:
        if self.backend not in spec.backends:
            raise BackendNotSupported(
                f"{spec.kind} {spec.name!r} runs on {', '.join(sorted(spec.backends))} only, not on {self.backend}",
                hint=f'set [daemon] backend = "{sorted(spec.backends)[0]}" or pick another {spec.kind}',
            )

    def context(self, name: str, config: Any, *, kind: Kind | None = None) -> ComponentContext[Any]:
        """The context handed to component ``name``; only the buffer gets the candle inbox."""
        return ComponentContext(
            name=name,
            config=config,
            settings=self.settings,
            telemetry=self.telemetry,
            clock=self.clock,
            log=logging.LoggerAdapter(logging.getLogger(f"candlewick.component.{name}"), {"component": name}),
            candles=self.outlet,
            inbox=self._candle_receive if kind == "buffer" else None,
            lookup=self.component,
            data_dir=self.data_dir,
        )

    def add(self, component: Component, policy: RestartPolicy | None = None) -> Child:
        """Supervise one more component."""
        if component.name in self.components:
            raise ConfigError(f"two components are named {component.name!r}")
        self.components[component.name] = component
        return self.supervisor.add(component, policy)

    def component(self, name: str) -> Component:
        try:
            return self.components[name]
        except KeyError:
            raise LookupError(f"no component named {name!r}") from None

    def of_kind(self, kind: Kind) -> list[Component]:
        """The components of one kind, in the order they were added."""
        return [c for c in self.components.values() if c.kind == kind]

    # -- running -----------------------------------------------------------------------------

    def request_shutdown(self, reason: str = "requested") -> None:
        """Begin a graceful shutdown (safe to call more than once, and before ``run``)."""
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        log.info("shutting down (%s)", reason)
        self.telemetry.publish(names.EV_SHUTDOWN, "daemon", f"shutting down ({reason})", reason=reason)
        if self._stop is not None:
            self._stop.set()

    def _fatal(self, child: Child) -> None:
        self.exit_code = EXIT_FAILED
        self.request_shutdown(f"critical component {child.name} failed")

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED, signals: bool = True) -> int:
        """Run until shut down; returns the process exit code."""
        log.info(
            "candlewick %s starting on %s (pid %d, config %s, data %s)",
            self.version, self.backend, self.pid, self.config_path or "built-in defaults", self.data_dir,
        )  # fmt: skip
        for warning in self.config_warnings():
            log.warning("%s", warning)
        self._stop = anyio.Event()
        if self._stop_reason is not None:
            self._stop.set()
        try:
            async with anyio.create_task_group() as tg:
                if signals:
                    tg.start_soon(self._watch_signals)
                if self.blockwatch is not None:
                    await tg.start(self.blockwatch.run)
                await tg.start(self.supervisor.run)
                task_status.started()
                await self._stop.wait()
                await self._shutdown()
                tg.cancel_scope.cancel()
        finally:
            self.close()
        log.info("stopped (exit %d)", self.exit_code)
        return self.exit_code

    def close(self) -> None:
        """Release the candle stream (``run`` does this; call it for a daemon never run)."""
        self._candle_send.close()
        self._candle_receive.close()

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                self.request_shutdown(signal.Signals(signum).name)

    async def _shutdown(self) -> None:
        sup = self.supervisor
        sup.begin_shutdown()
        timeout = self.settings.daemon.shutdown_timeout
        with anyio.move_on_after(timeout) as scope:
            await sup.stop_all(sup.of_kind("source"))
            self._candle_send.close()  # the buffer sees end-of-input and drains
            await sup.wait_finished(sup.of_kind("buffer"))
            await sup.stop_all(sup.of_kind("sink"))
            await sup.stop_all(sup.of_kind("service"))
        if scope.cancelled_caught:
            left = [c.name for c in sup.children.values() if c.active]
            log.warning("shutdown took longer than %gs; cancelling %s", timeout, ", ".join(left) or "nothing")
            watchdog = threading.Timer(KILL_GRACE, _hard_exit, args=(left, self.exit_code))
            watchdog.daemon = True
            watchdog.start()
            try:
                await sup.stop_all(sup.children.values())
            finally:
                watchdog.cancel()


def _hard_exit(names: list[str], code: int) -> None:
    logging.getLogger(__name__).error(
        "components ignored cancellation for %gs (%s); exiting anyway", KILL_GRACE, ", ".join(names)
    )
    logging.shutdown()
    os._exit(code)
