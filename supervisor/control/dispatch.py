"""The method table: names to handlers, and exceptions to JSON-RPC errors.

Built-in methods are the coroutine methods of a class marked with :func:`rpc`; each takes
one :class:`~candlewick.control.params.Params` struct (or nothing), which
:meth:`MethodTable.add_methods` decodes from the request's ``params`` before the call.
Plugin handlers take the ``params`` object as it came (:data:`~candlewick.control.methods.Handler`).
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from candlewick.control import protocol as p
from candlewick.control.methods import Handler
from candlewick.control.params import Params, decode_params
from candlewick.errors import CandlewickError, SinkUnavailable

log = logging.getLogger(__name__)

__all__ = ["MethodTable", "Rpc", "error_for", "rpc", "rpc_methods"]

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
_MARK: Final = "__candlewick_rpc__"


@dataclass(frozen=True, slots=True)
class Rpc:
    """How a method is called over the socket: its name, and whether it never waits.

    An ``inline`` method is run by the connection's reader, saving a task per request; the
    others run as tasks, so a slow one does not hold up the connection.
    """

    name: str
    inline: bool = False


def rpc(name: str, *, inline: bool = False) -> Callable[[F], F]:
    """Mark a coroutine method as the control method ``name`` (see :class:`Rpc`)."""

    def mark(method: F) -> F:
        setattr(method, _MARK, Rpc(name, inline))
        return method

    return mark


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

    def add_methods(self, methods: object) -> None:
        """Add every :func:`rpc`-marked method of ``methods``, its params decoded as it declares."""
        for attr, mark, kind in rpc_methods(type(methods)):
            self.add(mark.name, _decoding(getattr(methods, attr), kind), inline=mark.inline)

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def inline(self, name: str) -> bool:
        """Whether ``name`` never waits (see :class:`Rpc`)."""
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


def rpc_methods(cls: type) -> list[tuple[str, Rpc, type[Params] | None]]:
    """The :func:`rpc`-marked methods of ``cls``: attribute name, mark, params struct (or ``None``)."""
    found = []
    for attr, member in inspect.getmembers(cls, inspect.iscoroutinefunction):
        mark = getattr(member, _MARK, None)
        if isinstance(mark, Rpc):
            found.append((attr, mark, _params_type(member)))
    return found


def _params_type(method: Callable[..., Any]) -> type[Params] | None:
    """The struct a marked method takes (its one parameter after ``self``), or ``None``."""
    hints = typing.get_type_hints(method)
    hints.pop("return", None)
    if not hints:
        return None
    (kind,) = hints.values()
    if not (isinstance(kind, type) and issubclass(kind, Params)):
        raise TypeError(f"control method {method.__qualname__} must take a Params struct, not {kind!r}")
    return kind


def _decoding(method: Callable[..., Awaitable[Any]], kind: type[Params] | None) -> Handler[Any]:
    if kind is None:

        async def without_params(params: dict[str, Any]) -> Any:
            return await method()

        return without_params

    async def with_params(params: dict[str, Any]) -> Any:
        return await method(decode_params(kind, params))

    return with_params
