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

from candlewick.host import ControlHost, Handler

__all__ = ["ControlHost", "Handler"]
