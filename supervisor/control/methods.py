"""What control-method handlers see of the daemon, and the handler type.

A handler is an async function taking the request's ``params`` object and returning a
JSON-able result. To answer with a specific error code it raises
:class:`~candlewick.control.protocol.RpcError`; other exceptions are mapped by
:func:`candlewick.control.dispatch.error_for`.

Plugins contribute handlers through the ``candlewick_control_methods(host)`` hook::

    from candlewick.plugin import hookimpl

    @hookimpl
    def candlewick_control_methods(host):
        async def ping(params):
            return {"pong": params.get("n", 0), "pid": host.pid}
        return {"ping": ping}        # callable as "<plugin name>.ping"
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from candlewick.config import Settings
    from candlewick.plugin import Component, ComponentContext, Kind
    from candlewick.pluginmanager import PluginHooks
    from candlewick.runtime.clock import Clock
    from candlewick.runtime.supervisor import Supervisor
    from candlewick.runtime.telemetry import Telemetry

T_co = TypeVar("T_co", covariant=True)

#: An RPC method: takes the request's params object, returns a JSON-able result.
Handler = Callable[[dict[str, Any]], Awaitable[T_co]]


class ControlHost(Protocol):
    """The daemon as handlers see it (implemented by :class:`candlewick.runtime.daemon.Daemon`)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def telemetry(self) -> Telemetry: ...
    @property
    def supervisor(self) -> Supervisor: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def components(self) -> Mapping[str, Component]: ...
    @property
    def version(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def started_at(self) -> float: ...
    @property
    def backend(self) -> str: ...
    @property
    def config_path(self) -> Path | None: ...

    def request_shutdown(self, reason: str = ...) -> None: ...


class ServiceHost(ControlHost, Protocol):
    """The daemon as a service's builder sees it: the host, plus contexts and the plugin hooks."""

    @property
    def hooks(self) -> PluginHooks: ...

    def context(self, name: str, config: Any, *, kind: Kind | None = None) -> ComponentContext[Any]: ...
