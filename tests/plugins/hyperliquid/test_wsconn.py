"""The websocket shell: every way a connection ends is ConnectionLost, whatever state it is in."""

from __future__ import annotations

from typing import cast

import anyio
import pytest
from anyio.abc import ByteStream
from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.uri import parse_uri

from candlewick.plugins.hyperliquid.wsconn import ConnectionLost, WebSocket


def test_send_while_the_close_handshake_runs_is_connection_lost() -> None:
    """A send after a close frame went out (state CLOSING) raises ConnectionLost, not an AssertionError."""
    protocol = ClientProtocol(parse_uri("ws://127.0.0.1/ws"))
    protocol.state = State.OPEN  # as after the handshake
    protocol.send_close(1000)
    assert protocol.state is State.CLOSING
    ws = WebSocket(cast("ByteStream", None), protocol)  # never written to: the send is refused first
    with pytest.raises(ConnectionLost, match="connection closing"):
        anyio.run(ws.send_text, "{}")
