"""The control socket: JSON-RPC 2.0 over a Unix socket (protocol core, server, client).

This package's face is the client side only (no daemon runtime is imported here): the
server lives in :mod:`candlewick.control.server`.
"""

from candlewick.control.client import ControlClient, resolve_socket_path
from candlewick.control.protocol import (
    PROTOCOL_VERSION,
    IncompatibleProtocol,
    Notification,
    RpcError,
)
from candlewick.errors import ControlError, DaemonUnreachable

__all__ = [
    "PROTOCOL_VERSION",
    "ControlClient",
    "ControlError",
    "DaemonUnreachable",
    "IncompatibleProtocol",
    "Notification",
    "RpcError",
    "resolve_socket_path",
]
