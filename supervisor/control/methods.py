"""What control-method handlers see of the daemon, and the handler type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T_co = TypeVar("T_co", covariant=True)

#: An RPC method: takes the request's params object, returns a JSON-able result.
Handler = Callable[[dict[str, Any]], Awaitable[T_co]]

#: The daemon object handlers are given (see :class:`candlewick.runtime.daemon.Daemon`).
ControlHost = Any
