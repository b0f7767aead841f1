"""What control-method handlers see of the daemon, and the handler type (defined in :mod:`candlewick.host`).

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

from typing import TYPE_CHECKING, Any, Protocol

from candlewick.host import ControlHost, Handler

if TYPE_CHECKING:
    from candlewick.plugin import ComponentContext, Kind
    from candlewick.pluginmanager import PluginHooks

__all__ = ["ControlHost", "Handler", "ServiceHost"]


class ServiceHost(ControlHost, Protocol):
    """The daemon as a service's builder sees it: the host, plus contexts and the plugin hooks."""

    @property
    def hooks(self) -> PluginHooks: ...

    def context(self, name: str, config: Any, *, kind: Kind | None = None) -> ComponentContext[Any]: ...
