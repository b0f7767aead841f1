"""A client's side of a control connection, fed bytes synchronously (no socket, no clock)."""

from __future__ import annotations

import json

import pytest

from candlewick.control import protocol as p
from candlewick.control.client_connection import ClientConnection, Closed
from candlewick.errors import ControlError

# -- matching answers to calls --------------------------------------------------------------


def test_answers_are_matched_to_waiting_calls_in_any_order() -> None:
    conn = ClientConnection(address="test.sock")
    first, _ = conn.send_request("status")
    second, data = conn.send_request("candles.recent", {"coin": "BTC"})
    assert (first, second) == (1, 2)
    assert json.loads(data)["params"] == {"coin": "BTC"}
    assert conn.pending == {1, 2}
    events = conn.receive_data(p.encode_result(2, "b") + p.encode_result(1, "a") + p.encode_result(1, "again"))
    assert events == [p.Response(2, result="b"), p.Response(1, result="a")], "a second answer to 1 is dropped"
    assert conn.pending == set()


def test_an_answer_nobody_waits_for_is_dropped() -> None:
    conn = ClientConnection(address="test.sock")
    id_, _ = conn.send_request("status")
    conn.abandon(id_)  # timed out
    assert conn.receive_data(p.encode_result(id_, {}) + p.encode_result(99, {}) + p.encode_result("x", {})) == []


def test_notifications_pass_and_dropped_reports_are_counted() -> None:
    conn = ClientConnection(address="test.sock")
    events = conn.receive_data(
        p.encode_notification("stats", {"time": 1}) + p.encode_notification("dropped", {"count": 3, "total": 7})
    )
    assert events == [p.Notification("stats", {"time": 1}), p.Notification("dropped", {"count": 3, "total": 7})]
    assert conn.dropped_by_daemon == 7


def test_an_error_without_id_is_the_daemon_refusing_us() -> None:
    """Every waiting call and every later one fails with the refusal; nothing after it counts."""
    conn = ClientConnection(address="test.sock")
    conn.send_request("hello")
    refusal = p.encode_error(None, p.BUSY, "too many clients")
    events = conn.receive_data(refusal + p.encode_result(1, {}))
    assert len(events) == 1
    assert isinstance(events[0], Closed)
    assert isinstance(events[0].error, p.RpcError)
    assert events[0].error.code == p.BUSY
    assert conn.closed is events[0].error
    assert conn.pending == set()
    with pytest.raises(p.RpcError, match="too many clients"):
        conn.send_request("status")
    assert conn.receive_eof().error is events[0].error, "the first reason stays"


def test_garbage_from_the_daemon_closes_the_connection() -> None:
    conn = ClientConnection(address="test.sock")
    conn.send_request("status")
    (event,) = conn.receive_data(b"not json\n")
    assert isinstance(event, Closed)
    assert isinstance(event.error, p.ProtocolViolation)
    assert conn.pending == set()
    assert conn.receive_data(p.encode_result(1, {})) == []


def test_end_of_stream_names_the_address() -> None:
    conn = ClientConnection(address="/run/x.sock")
    closed = conn.receive_eof()
    assert "/run/x.sock" in closed.error.message
    with pytest.raises(ControlError, match="closed the connection"):
        conn.send_notification("shutdown")


def test_hello_handshake() -> None:
    assert ClientConnection.hello_params("ctl/1") == {"protocol": p.PROTOCOL_VERSION, "client": "ctl/1"}
    assert ClientConnection.hello_params("ctl/1", "tok")["token"] == "tok"
    assert ClientConnection.receive_hello({"protocol": "1.3", "pid": 1}) == {"protocol": "1.3", "pid": 1}
    with pytest.raises(p.IncompatibleProtocol):
        ClientConnection.receive_hello({"protocol": "2.0"})
    with pytest.raises(p.IncompatibleProtocol):
        ClientConnection.receive_hello(["not", "an", "object"])
