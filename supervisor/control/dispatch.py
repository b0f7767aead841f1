"""The method table: names to handlers, and exceptions to JSON-RPC errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from candlewick.control import protocol as p
from candlewick.control.methods import Handler
from candlewick.errors import CandlewickError, SinkUnavailable

log = logging.getLogger(__name__)

__all__ = ["MethodTable", "error_for"]


def error_for(method: str, exc: Exception) -> p.RpcError:
    """The error answer for an exception a handler raised.

    ``RpcError`` passes through; ``SinkUnavailable`` becomes ``SINK_UNAVAILABLE``; another
    :class:`CandlewickError` becomes ``APPLICATION_ERROR`` with its title and hint;
    ``LookupError`` is ``NOT_FOUND``, ``ValueError``/``TypeError`` ``INVALID_PARAMS`` and
    ``NotImplementedError`` ``UNSUPPORTED``. Anything else is ``INTERNAL_ERROR``, logged with
    its traceback.
    """
    if isinstance(exc, p.RpcError):
        return exc
    if isinstance(exc, CandlewickError):
        code = p.SINK_UNAVAILABLE if isinstance(exc, SinkUnavailable) else p.APPLICATION_ERROR
        return p.RpcError(code, exc.message, {"title": exc.title, "hint": exc.hint})
    if isinstance(exc, LookupError):
        message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
        return p.RpcError(p.NOT_FOUND, message)
    if isinstance(exc, ValueError | TypeError):
        return p.RpcError(p.INVALID_PARAMS, str(exc))
    if isinstance(exc, NotImplementedError):
        return p.RpcError(p.UNSUPPORTED, str(exc) or f"{method} is not supported here")
    log.error("control method %s failed", method, exc_info=exc)
    return p.RpcError(p.INTERNAL_ERROR, f"{method} failed: {type(exc).__name__}: {exc}", {"hint": "see the daemon log"})


class MethodTable:
    """Handlers by method name (built-in ones plus plugin ones, namespaced)."""

    def __init__(self, handlers: Mapping[str, Handler[Any]] | None = None) -> None:
        self._handlers: dict[str, Handler[Any]] = dict(handlers or {})
        self._inline: set[str] = set()

    def add(self, name: str, handler: Handler[Any], *, inline: bool = False) -> None:
        if name in self._handlers:
            raise ValueError(f"control method {name!r} is defined twice")
        self._handlers[name] = handler
        if inline:
            self._inline.add(name)

    def update(self, handlers: Mapping[str, Handler[Any]]) -> None:
        for name, handler in handlers.items():
            self.add(name, handler)

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def inline(self, name: str) -> bool:
        """Whether ``name`` never waits: the connection's reader runs it, saving a task."""
        return name in self._inline

    def __contains__(self, name: object) -> bool:
        return name in self._handlers

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Run ``method``; raises :class:`RpcError` for every failure."""
        handler = self._handlers.get(method)
        if handler is None:
            raise p.RpcError(p.METHOD_NOT_FOUND, f"no method {method!r} (the hello answer lists every method)")
        try:
            return await handler(params)
        except Exception as exc:
            raise error_for(method, exc) from None
