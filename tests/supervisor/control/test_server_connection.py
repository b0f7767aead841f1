"""The daemon's side of a control connection, fed bytes synchronously (no socket, no clock)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from candlewick.control import protocol as p
from candlewick.control.server_connection import Close, Send, ServerConnection, TopicsChanged

TOKEN = "s3cret-token-0123456789"


def line(method: str, params: dict[str, Any] | None = None, id_: int | None = 1) -> bytes:
    return p.encode_request(id_, method, params)


def reply_of(event: object) -> dict[str, Any]:
    assert isinstance(event, Send | Close), event
    msg: dict[str, Any] = json.loads(event.data)
    return msg


# -- server side: authentication -------------------------------------------------------------


def test_an_authenticated_connection_passes_calls_through_in_order() -> None:
    conn = ServerConnection()
    events = conn.receive_data(line("status", id_=1) + b"{oops\n" + line("health", id_=2))
    assert isinstance(events[0], p.Request)
    assert events[0].method == "status"
    assert reply_of(events[1])["error"]["code"] == p.PARSE_ERROR
    assert isinstance(events[2], p.Request)
    assert events[2].id == 2


def test_tcp_connection_must_say_hello_with_the_token_first() -> None:
    """Any other first call is refused UNAUTHORIZED, the connection closes, nothing after counts."""
    conn = ServerConnection(authenticated=False, token=TOKEN)
    events = conn.receive_data(line("status", id_=7) + line("hello", {"token": TOKEN}, id_=8))
    assert len(events) == 1
    assert isinstance(events[0], Close)
    error = reply_of(events[0])
    assert (error["id"], error["error"]["code"]) == (7, p.UNAUTHORIZED)
    assert "hello with the token" in error["error"]["message"]
    assert conn.closing
    assert not conn.authenticated
    assert conn.receive_data(line("hello", {"token": TOKEN})) == []


def test_wrong_token_is_refused_and_the_right_one_lets_calls_through() -> None:
    wrong = ServerConnection(authenticated=False, token=TOKEN)
    (event,) = wrong.receive_data(line("hello", {"token": "guess"}))
    assert isinstance(event, Close)
    assert reply_of(event)["error"]["message"] == "wrong token"
    assert "wrong token" in event.reason

    right = ServerConnection(authenticated=False, token=TOKEN)
    hello, status = right.receive_data(line("hello", {"token": TOKEN, "protocol": "1.0"}) + line("status", id_=2))
    assert isinstance(hello, p.Request)
    assert hello.method == "hello"
    assert isinstance(status, p.Request)
    assert right.authenticated


def test_without_a_configured_token_nobody_authenticates() -> None:
    conn = ServerConnection(authenticated=False, token=None)
    (event,) = conn.receive_data(line("hello", {"token": ""}))
    assert isinstance(event, Close)
    assert reply_of(event)["error"]["code"] == p.UNAUTHORIZED


def test_bad_lines_before_hello_are_answered_without_closing() -> None:
    conn = ServerConnection(authenticated=False, token=TOKEN)
    (event,) = conn.receive_data(b"[1]\n")
    assert isinstance(event, Send)
    assert reply_of(event)["error"]["code"] == p.INVALID_REQUEST
    assert not conn.closing


def test_an_overlong_line_closes_with_line_too_long() -> None:
    conn = ServerConnection(max_line=50)
    (event,) = conn.receive_data(b"x" * 80)
    assert isinstance(event, Close)
    assert reply_of(event)["error"]["code"] == p.LINE_TOO_LONG
    assert conn.closing


# -- server side: subscriptions --------------------------------------------------------------


def test_subscribe_is_answered_by_the_connection_with_what_starts_now() -> None:
    conn = ServerConnection()
    ack, change = conn.receive_data(line("subscribe", {"topics": ["stats", "events"], "history": 5}))
    assert reply_of(ack)["result"] == {"topics": ["events", "stats"]}
    assert change == TopicsChanged(frozenset({"stats", "events"}), replay=5)
    # Subscribing again adds nothing and replays nothing; a single topic may be a string.
    _, again = conn.receive_data(line("subscribe", {"topics": "events", "history": 5}))
    assert again == TopicsChanged(frozenset(), replay=0)
    ack, change = conn.receive_data(line("unsubscribe", {"topics": ["stats"]}))
    assert reply_of(ack)["result"] == {"topics": ["events"]}
    assert change == TopicsChanged(frozenset())
    assert conn.topics == {"events"}


def test_logs_level_filters_records() -> None:
    conn = ServerConnection()
    assert not conn.wants_log(logging.ERROR), "not subscribed to logs"
    conn.receive_data(line("subscribe", {"topics": ["logs"], "level": "warning"}))
    assert conn.log_level == logging.WARNING
    assert conn.wants_log(logging.ERROR)
    assert not conn.wants_log(logging.INFO)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({}, "missing parameter 'topics'"),
        ({"topics": ["weather"]}, "parameter 'topics' must be a list of events, logs, stats, got ['weather']"),
        ({"topics": 3}, "parameter 'topics' must be a list of events, logs, stats, got 3"),
        ({"topics": ["logs"], "level": "loud"}, "parameter 'level' must be one of DEBUG, INFO, WARNING, ERROR"),
        ({"topics": ["events"], "history": 201}, "parameter 'history' must be an integer from 0 to 200, got 201"),
        ({"topics": ["events"], "history": True}, "parameter 'history' must be an integer from 0 to 200, got True"),
    ],
)
def test_bad_subscriptions_are_invalid_params_naming_what_is_allowed(params: dict[str, Any], words: str) -> None:
    conn = ServerConnection()
    (event,) = conn.receive_data(line("subscribe", params, id_=4))
    error = reply_of(event)
    assert (error["id"], error["error"]["code"]) == (4, p.INVALID_PARAMS)
    assert words in error["error"]["message"]
    assert conn.topics == set()


def test_subscription_notifications_change_topics_silently() -> None:
    """Sent as notifications (no id): applied but not answered; a bad one is dropped."""
    conn = ServerConnection()
    assert conn.receive_data(line("subscribe", {"topics": ["stats"]}, id_=None)) == [
        TopicsChanged(frozenset({"stats"}))
    ]
    assert conn.receive_data(line("subscribe", {"topics": ["weather"]}, id_=None)) == []
    assert conn.topics == {"stats"}


# -- server side: answers --------------------------------------------------------------------


def test_answers_and_errors_are_encoded_for_requests_only() -> None:
    conn = ServerConnection()
    call = p.Request("status", {}, 3)
    assert json.loads(conn.answer(call, {"ok": 1}) or b"") == {"jsonrpc": "2.0", "id": 3, "result": {"ok": 1}}
    failed = json.loads(conn.fail(call, p.RpcError(p.NOT_FOUND, "no such", {"hint": "look"})) or b"")
    assert failed["error"] == {"code": p.NOT_FOUND, "message": "no such", "data": {"hint": "look"}}
    note = p.Request("status", {}, None, notify=True)
    assert conn.answer(note, {"ok": 1}) is None
    assert conn.fail(note, p.RpcError(p.NOT_FOUND, "x")) is None


def test_an_unencodable_result_is_an_internal_error() -> None:
    answer = ServerConnection().answer(p.Request("odd", {}, 1), {"x": object()})
    assert answer is not None
    error = json.loads(answer)["error"]
    assert error["code"] == p.INTERNAL_ERROR
    assert "odd" in error["message"]
