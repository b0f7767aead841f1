"""The sans-I/O protocol core, fed bytes synchronously."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candlewick.control import protocol as p

HELLO = b'{"jsonrpc": "2.0", "id": 1, "method": "hello", "params": {"protocol": "1.0"}}'


def error_of(event: object) -> dict[str, Any]:
    assert isinstance(event, p.Invalid | p.LineTooLong), event
    msg = json.loads(event.reply)
    assert msg["jsonrpc"] == "2.0"
    assert set(msg) == {"jsonrpc", "id", "error"}
    return dict(msg["error"], id=msg["id"])


# -- framing ---------------------------------------------------------------------------------


def test_lines_split_across_chunks_are_joined() -> None:
    """A request arriving byte by byte is parsed once, when its newline arrives."""
    server = p.ServerProtocol()
    events: list[object] = []
    for i in range(len(HELLO)):
        events += server.receive_data(HELLO[i : i + 1])
    assert events == []
    events += server.receive_data(b"\n")
    assert events == [p.Request("hello", {"protocol": "1.0"}, 1)]


def test_several_lines_in_one_chunk_crlf_and_blank_lines() -> None:
    """CRLF is accepted, blank lines are ignored, every line in a chunk is returned in order."""
    server = p.ServerProtocol()
    data = HELLO + b"\r\n\n   \n" + b'{"jsonrpc":"2.0","id":"b","method":"status"}\n'
    events = server.receive_data(data)
    assert [e.id for e in events if isinstance(e, p.Request)] == [1, "b"]


def test_oversized_line_is_reported_once_without_being_buffered_whole() -> None:
    """A 3 MiB line fed in 64 KiB chunks: never more than 1 MiB held, one LineTooLong, then nothing."""
    framer = p.LineFramer(p.MAX_LINE_BYTES)
    chunk = b"x" * 65536
    results: list[bytes | None] = []
    for _ in range(48):
        results += framer.feed(chunk)
        assert framer.pending <= p.MAX_LINE_BYTES
    results += framer.feed(b"\n" + HELLO + b"\n")
    assert results == [None]
    assert framer.overflowed


def test_line_of_exactly_the_limit_is_accepted() -> None:
    """The limit is inclusive: a line of max_line bytes is parsed, one byte more is refused."""
    ok = p.LineFramer(10)
    assert list(ok.feed(b"0123456789\n")) == [b"0123456789"]
    too_long = p.LineFramer(10)
    assert list(too_long.feed(b"0123456789A\n")) == [None]


def test_server_protocol_answers_oversize_with_line_too_long() -> None:
    server = p.ServerProtocol(max_line=100)
    events = server.receive_data(b"{" + b" " * 200)
    assert len(events) == 1
    assert isinstance(events[0], p.LineTooLong)
    assert error_of(events[0])["code"] == p.LINE_TOO_LONG
    assert server.closing
    assert server.receive_data(HELLO + b"\n") == []


# -- request parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "code", "id_"),
    [
        (b"{bad json", p.PARSE_ERROR, None),
        (b"\xff\xfe{}", p.PARSE_ERROR, None),
        (b'[{"jsonrpc":"2.0","id":1,"method":"x"}]', p.INVALID_REQUEST, None),
        (b'"just a string"', p.INVALID_REQUEST, None),
        (b'{"id":3,"method":"status"}', p.INVALID_REQUEST, 3),
        (b'{"jsonrpc":"1.0","id":3,"method":"status"}', p.INVALID_REQUEST, 3),
        (b'{"jsonrpc":"2.0","id":4}', p.INVALID_REQUEST, 4),
        (b'{"jsonrpc":"2.0","id":4,"method":""}', p.INVALID_REQUEST, 4),
        (b'{"jsonrpc":"2.0","id":4,"method":7}', p.INVALID_REQUEST, 4),
        (b'{"jsonrpc":"2.0","id":true,"method":"x"}', p.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":[1],"method":"x"}', p.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"x"}', p.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":"a","method":"x","params":[1,2]}', p.INVALID_PARAMS, "a"),
        (b'{"jsonrpc":"2.0","id":"a","method":"x","params":3}', p.INVALID_PARAMS, "a"),
    ],
)
def test_invalid_requests_get_the_right_error_and_id(line: bytes, code: int, id_: object) -> None:
    """Each kind of bad request gets its JSON-RPC code, echoing the id when it is usable."""
    event = p.parse_request(line)
    err = error_of(event)
    assert err["code"] == code
    assert err["id"] == id_
    assert err["message"]


def test_valid_requests_and_notifications() -> None:
    """Missing or null params become {}; a request without id is a notification."""
    assert p.parse_request(b'{"jsonrpc":"2.0","id":0,"method":"stats"}') == p.Request("stats", {}, 0)
    assert p.parse_request(b'{"jsonrpc":"2.0","id":null,"method":"a","params":null}') == p.Request("a", {}, None)
    note = p.parse_request(b'{"jsonrpc":"2.0","method":"shutdown"}')
    assert note == p.Request("shutdown", {}, None, notify=True)


def test_deeply_nested_json_is_a_parse_error_not_a_crash() -> None:
    line = b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    event = p.parse_request(line)
    assert isinstance(event, p.Invalid | p.Request)


# -- client side -----------------------------------------------------------------------------


def test_client_numbers_requests_and_parses_answers() -> None:
    client = p.ClientProtocol()
    id1, line1 = client.request("status")
    id2, line2 = client.request("candles.recent", {"coin": "BTC"})
    assert (id1, id2) == (1, 2)
    assert json.loads(line1) == {"jsonrpc": "2.0", "id": 1, "method": "status"}
    assert json.loads(line2)["params"] == {"coin": "BTC"}
    data = (
        p.encode_result(2, {"candles": []})
        + p.encode_error(1, p.NOT_FOUND, "no such thing", {"hint": "look"})
        + p.encode_notification("stats", {"time": 1.0})
    )
    got = client.receive_data(data[:7]) + client.receive_data(data[7:])
    assert got[0] == p.Response(2, result={"candles": []})
    assert isinstance(got[1], p.Response)
    err = got[1].error
    assert err is not None
    assert (err.code, err.message, str(err)) == (p.NOT_FOUND, "no such thing", "no such thing (look)")
    assert got[2] == p.Notification("stats", {"time": 1.0})


@pytest.mark.parametrize(
    "line",
    [b"nope", b"[]", b'{"jsonrpc":"2.0","id":1}', b'{"jsonrpc":"2.0","id":1,"error":"x"}', b'{"id":1,"result":1}'],
)
def test_client_rejects_garbage_from_the_daemon(line: bytes) -> None:
    with pytest.raises(p.ProtocolViolation):
        p.ClientProtocol().receive_data(line + b"\n")


# -- versions --------------------------------------------------------------------------------


def test_version_compatibility() -> None:
    """Another minor is fine; another major is refused with a message naming both versions."""
    assert p.check_compatible({"protocol": "1.7"}) == (1, 7)
    with pytest.raises(p.IncompatibleProtocol, match=r"2\.0.*1\.0"):
        p.check_compatible({"protocol": "2.0", "daemon": "9.0"})
    with pytest.raises(p.IncompatibleProtocol, match="usable protocol version"):
        p.check_compatible({"daemon": "0.0.1"})
    with pytest.raises(ValueError, match="look like"):
        p.parse_version("1")


def test_error_table_is_documented() -> None:
    """Every code has a name, and the module docstring lists every code."""
    assert p.__doc__ is not None
    for code in p.ERROR_NAMES:
        assert str(code) in p.__doc__


# -- fuzzing ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.integers(1, 64))
def test_fuzz_arbitrary_bytes_never_crash_the_server_protocol(data: bytes, split: int) -> None:
    """Any bytes, in any chunking: only requests and well-formed error replies come out."""
    server = p.ServerProtocol(max_line=512)
    events: list[object] = []
    for i in range(0, len(data), split):
        events += server.receive_data(data[i : i + split])
    for event in events:
        if isinstance(event, p.Request):
            assert isinstance(event.params, dict)
            assert event.method
        else:
            assert error_of(event)["code"] in p.ERROR_NAMES


@settings(max_examples=400)
@given(json_values)
def test_fuzz_any_json_value_is_answered(value: object) -> None:
    """Any JSON document parses to a request or an error reply carrying a known code."""
    line = json.dumps(value).encode()
    event = p.parse_request(line)
    if isinstance(event, p.Invalid):
        assert error_of(event)["code"] in p.ERROR_NAMES
    else:
        assert isinstance(value, dict)
        assert value.get("jsonrpc") == "2.0"


request_ids = st.none() | st.integers(-(2**53), 2**53) | st.text(max_size=10)


@settings(max_examples=300)
@given(request_ids, st.text(min_size=1, max_size=20), st.dictionaries(st.text(max_size=8), json_values, max_size=4))
def test_fuzz_valid_requests_round_trip(id_: int | str | None, method: str, params: dict[str, Any]) -> None:
    """What a client encodes, the server parses back to the same method, params and id."""
    server = p.ServerProtocol()
    (event,) = server.receive_data(
        p.encode_request(id_, method, params) if id_ is not None else _with_null(method, params)
    )
    assert isinstance(event, p.Request)
    assert (event.method, event.params, event.id) == (method, params, id_)


def _with_null(method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": None, "method": method, "params": params}).encode() + b"\n"
