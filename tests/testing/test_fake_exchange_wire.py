"""The fake's websocket talks to a third client, the ``websockets`` library's own (threaded) one,
so its wire format is proven without candlewick's websocket code on either end."""

from __future__ import annotations

import json
from contextlib import ExitStack
from functools import partial
from typing import Any

import anyio
import pytest
from anyio.streams.stapled import StapledObjectStream
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.sync.client import ClientConnection, connect

from candlewick.testing import FakeExchange
from candlewick.testing._websocket import ServerWebSocket, WebSocketClosed

pytestmark = pytest.mark.anyio
pytest_plugins = ["candlewick.testing.fixtures"]

SUB = {"type": "candle", "coin": "BTC", "interval": "1m"}


def open_client(url: str, compression: str | None = "deflate") -> ClientConnection:
    return connect(url, compression=compression, proxy=None, open_timeout=5, ping_interval=None, close_timeout=3)


def next_json(ws: ClientConnection) -> Any:
    return json.loads(ws.recv(timeout=3))


def conversation(url: str, compression: str | None) -> dict[str, Any]:
    """Greeting, subscribe, a fragmented ping, a protocol ping, a candle, then a clean close."""
    with open_client(url, compression) as ws:
        assert ws.response is not None
        seen: dict[str, Any] = {"extensions": ws.response.headers.get("Sec-WebSocket-Extensions")}
        seen["greeting"] = ws.recv(timeout=3)
        ws.send(json.dumps({"method": "subscribe", "subscription": SUB}))
        seen["ack"] = next_json(ws)
        ws.send(['{"method":', '"ping"}'])  # one message in two frames
        seen["pong"] = next_json(ws)
        seen["protocol_pong"] = ws.ping(b"heartbeat").wait(3)
        frame = next_json(ws)
        while frame["channel"] != "candle":
            frame = next_json(ws)
        seen["candle"] = frame["data"]
    seen["close_code"] = ws.close_code
    return seen


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_a_third_client_speaks_with_the_fake(fake_exchange: FakeExchange, compression: str | None) -> None:
    """Handshake with and without permessage-deflate, the plain-text greeting, the ack, the
    application pong to a fragmented message, the protocol pong, a candle object, closing code 1000."""
    seen = await anyio.to_thread.run_sync(conversation, fake_exchange.ws_url, compression)
    assert (seen["extensions"] or "").startswith("permessage-deflate") is (compression == "deflate")
    assert seen["greeting"] == "Websocket connection established."
    assert seen["ack"] == {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": SUB}}
    assert seen["pong"] == {"channel": "pong"}
    assert seen["protocol_pong"] is True
    assert list(seen["candle"]) == ["t", "T", "s", "i", "o", "c", "h", "l", "v", "n"]
    assert (seen["candle"]["s"], seen["candle"]["i"]) == ("BTC", "1m")
    assert seen["close_code"] == 1000
    assert fake_exchange.stats.pings == 1


async def test_the_fake_closes_politely_or_hangs_up(fake_exchange: FakeExchange) -> None:
    """Shutting down sends a close frame (1000); a dropped connection ends with none (1006)."""
    with ExitStack() as stack:
        enter = partial(lambda url: stack.enter_context(open_client(url)), fake_exchange.ws_url)
        dropped = await anyio.to_thread.run_sync(enter)
        assert await anyio.to_thread.run_sync(dropped.recv, 3) == "Websocket connection established."
        assert fake_exchange.drop_connections() == 1
        with pytest.raises(ConnectionClosedError):
            await anyio.to_thread.run_sync(dropped.recv, 3)
        assert dropped.close_code == 1006
        polite = await anyio.to_thread.run_sync(enter)
        assert await anyio.to_thread.run_sync(polite.recv, 3) == "Websocket connection established."
        fake_exchange.go_offline()
        with pytest.raises(ConnectionClosedOK):
            await anyio.to_thread.run_sync(polite.recv, 3)
        assert polite.close_code == 1000


async def test_sending_on_a_closing_websocket_says_so() -> None:
    """A push racing the client's close ends the push with WebSocketClosed, not an assertion."""
    protocol = ServerProtocol()
    protocol.state = State.CLOSING  # the close handshake began; close_exc is not defined yet
    left, right = anyio.create_memory_object_stream[bytes](1)
    stream = StapledObjectStream(left, right)
    ws = ServerWebSocket(stream, protocol)  # type: ignore[arg-type]
    with pytest.raises(WebSocketClosed, match="websocket closing"):
        await ws.send_text("{}")
    left.close()
    right.close()
