"""The fake exchange speaks the reference's wire format, its truth is consistent, its faults work."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from candlewick.gridwatch import disagreement
from candlewick.model import DAY_MS, INTERVAL_MS, INTERVALS, open_time
from candlewick.plugins.hyperliquid.protocol import parse_candle_list
from candlewick.plugins.hyperliquid.wsconn import ConnectionLost, Unreachable, WebSocket, connect
from candlewick.testing import FakeExchange, MarketModel

pytestmark = pytest.mark.anyio
pytest_plugins = ["candlewick.testing.fixtures"]

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "hyperliquid"
SUB = {"type": "candle", "coin": "BTC", "interval": "1m"}


@pytest.fixture
async def ws(fake_exchange: FakeExchange) -> AsyncIterator[WebSocket]:
    conn = await connect(fake_exchange.ws_url)
    try:
        yield conn
    finally:
        await conn.aclose()


async def recv_json(ws: WebSocket, timeout: float = 3.0) -> Any:
    with anyio.fail_after(timeout):
        return json.loads(await ws.recv())


async def drain(conn: WebSocket) -> None:
    """Read until the connection ends (raises ConnectionLost)."""
    while True:
        await conn.recv()


async def post(ex: FakeExchange, body: object) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(ex.rest_url + "/info", content=json.dumps(body))


async def test_greeting_ack_pong_and_candle_frames(fake_exchange: FakeExchange, ws: WebSocket) -> None:
    """Greeting as plain text, the ack echoes the subscription, pong answers ping, candles are objects."""
    with anyio.fail_after(3):
        assert await ws.recv() == "Websocket connection established."
    await ws.send_text(json.dumps({"method": "subscribe", "subscription": SUB}))
    assert await recv_json(ws) == {
        "channel": "subscriptionResponse",
        "data": {"method": "subscribe", "subscription": SUB},
    }
    await ws.send_text('{"method":"ping"}')
    assert await recv_json(ws) == {"channel": "pong"}
    frame = await recv_json(ws)
    while frame["channel"] != "candle":
        frame = await recv_json(ws)
    data = frame["data"]
    assert list(data) == ["t", "T", "s", "i", "o", "c", "h", "l", "v", "n"]
    assert data["T"] - data["t"] == 59_999
    assert all(isinstance(data[k], str) for k in "ochlv")
    assert isinstance(data["n"], int)
    assert fake_exchange.subscriptions() == [("BTC", "1m")]


async def test_error_strings(ws: WebSocket) -> None:
    """Already subscribed, Invalid subscription, Already unsubscribed and parse errors read as documented."""
    await ws.recv()
    sub = json.dumps({"method": "subscribe", "subscription": SUB})
    await ws.send_text(sub)
    await recv_json(ws)
    await ws.send_text(sub)
    assert await recv_json(ws) == {
        "channel": "error",
        "data": 'Already subscribed: {"type":"candle","interval":"1m","coin":"BTC"}',
    }
    await ws.send_text(json.dumps({"method": "subscribe", "subscription": {**SUB, "coin": "NOTACOIN"}}))
    assert (await recv_json(ws))["data"] == 'Invalid subscription {"type":"candle","coin":"NOTACOIN","interval":"1m"}'
    await ws.send_text(json.dumps({"method": "unsubscribe", "subscription": SUB}))
    ack = await recv_json(ws)
    while ack["channel"] == "candle":
        ack = await recv_json(ws)
    assert ack == {"channel": "subscriptionResponse", "data": {"method": "unsubscribe", "subscription": SUB}}
    await ws.send_text(json.dumps({"method": "unsubscribe", "subscription": SUB}))
    err = await recv_json(ws)
    while err["channel"] == "candle":
        err = await recv_json(ws)
    assert err["data"].startswith("Already unsubscribed: ")
    await ws.send_text("hello")
    assert (await recv_json(ws))["data"] == "Error parsing JSON into valid websocket request: hello"
    await ws.send_text(json.dumps({"method": "subscribe", "subscription": {**SUB, "interval": "6h"}}))
    assert (await recv_json(ws))["data"].startswith("Error parsing JSON into valid websocket request")


async def test_snapshot_matches_the_recorded_shape_and_overlap_semantics(fake_exchange: FakeExchange) -> None:
    """REST rows have the recorded keys (alphabetical) and types; the candle containing startTime comes first."""
    recorded = json.loads((RECORDED / "candle_snapshot.json").read_text())["response"][0]
    now = fake_exchange.now_ms()
    start = open_time("1h", now) - 5 * 3_600_000 + 1234
    resp = await post(
        fake_exchange,
        {
            "type": "candleSnapshot",
            "req": {"coin": "BTC", "interval": "1h", "startTime": start, "endTime": start + 3_600_000},
        },
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    rows = resp.json()
    assert [r["t"] for r in rows] == [open_time("1h", start), open_time("1h", start) + 3_600_000]
    assert list(rows[0]) == list(recorded)
    assert {k: type(v) for k, v in rows[0].items()} == {k: type(v) for k, v in recorded.items()}


async def test_snapshot_keeps_only_the_newest_5000(fake_exchange: FakeExchange) -> None:
    """All of history returns 5000 rows, the last one the open candle; a 500 cap returns the oldest 500."""
    now = fake_exchange.now_ms()
    body = {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m", "startTime": 0, "endTime": now}}
    rows = (await post(fake_exchange, body)).json()
    assert len(rows) == 5000
    assert rows[-1]["t"] == open_time("1m", now)
    fake_exchange.faults.page_limit = 500
    capped = (await post(fake_exchange, body)).json()
    assert [r["t"] for r in capped] == [r["t"] for r in rows[:500]]
    unknown = {"type": "candleSnapshot", "req": {"coin": "NOPE", "interval": "1m", "startTime": 0}}
    assert (await post(fake_exchange, unknown)).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "1m", "startTime": -1}},
        {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "6h", "startTime": 0}},
        {"type": "candleSnapshot", "coin": "BTC"},
        {"type": "nope"},
        "not an object",
    ],
)
async def test_malformed_requests_get_422_text(fake_exchange: FakeExchange, body: object) -> None:
    """Bad shapes, negative startTime and unknown intervals are 422 with the documented text body."""
    resp = await post(fake_exchange, body)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "text/plain"
    assert resp.text == "Failed to deserialize the JSON body into the target type"


async def test_rate_limit_fault_and_weight_enforcement() -> None:
    """429 with body null: on demand, and when the per-minute weight is spent."""
    async with FakeExchange(weight_per_minute=100) as ex:
        ex.faults.rate_limit_requests = 1
        resp = await post(ex, {"type": "meta"})
        assert (resp.status_code, resp.text) == (429, "null")
        statuses = [(await post(ex, {"type": "meta"})).status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5
        assert statuses[5:] == [429, 429]
        assert ex.stats.rest_weight == 100
        assert ex.stats.rate_limited == 3


async def test_meta_and_spot_meta(fake_exchange: FakeExchange) -> None:
    """meta lists perps by name; spotMeta pairs name their tokens by index (HYPE/USDC is @107)."""
    meta = (await post(fake_exchange, {"type": "meta"})).json()
    assert [u["name"] for u in meta["universe"]][:2] == ["BTC", "ETH"]
    spot = (await post(fake_exchange, {"type": "spotMeta"})).json()
    tokens = {t["index"]: t["name"] for t in spot["tokens"]}
    pairs = {p["name"]: "/".join(tokens[i] for i in p["tokens"]) for p in spot["universe"]}
    assert pairs["@107"] == "HYPE/USDC"
    assert pairs["PURR/USDC"] == "PURR/USDC"


async def test_http_edges(fake_exchange: FakeExchange) -> None:
    """Unknown paths are 404, GET is 405, keep-alive serves several requests on one connection."""
    async with httpx.AsyncClient() as client:
        assert (await client.post(fake_exchange.rest_url + "/nope", content=b"{}")).status_code == 404
        assert (await client.get(fake_exchange.rest_url + "/info")).status_code == 405
        for _ in range(3):
            assert (await client.post(fake_exchange.rest_url + "/info", json={"type": "meta"})).status_code == 200


async def test_truth_is_closed_continuous_and_deterministic(fake_exchange: FakeExchange) -> None:
    """Truth holds only closed candles; each opens at the previous close; the seed fixes everything."""
    now = fake_exchange.now_ms()
    truth = fake_exchange.truth("BTC", "5m", now - 3_600_000, now)
    assert all(c.closed and c.close_time < now for c in truth)
    assert all(b.open == a.close for a, b in itertools.pairwise(truth))
    again = MarketModel(seed=0).candle("BTC", "5m", truth[0].open_time)
    assert again == truth[0]
    assert MarketModel(seed=1).candle("BTC", "5m", truth[0].open_time) != truth[0]
    current = fake_exchange.current("BTC", "5m")
    assert current is not None
    assert not current.closed
    final = MarketModel(seed=0).candle("BTC", "5m", current.open_time)
    assert final is not None
    assert current.trades <= final.trades


async def test_sparse_coins_have_missing_minutes(fake_exchange: FakeExchange) -> None:
    """A sparse coin's truth skips minutes without trades."""
    fake_exchange.sparse_coins.add("DOGE")
    now = fake_exchange.now_ms()
    truth = fake_exchange.truth("DOGE", "1m", now - 100 * 60_000, now)
    assert 30 < len(truth) < 95


async def test_stall_drop_and_garbage_faults(fake_exchange: FakeExchange, ws: WebSocket) -> None:
    """A stalled socket answers nothing; a dropped one ends without a close frame; garbage is sent raw."""
    await ws.recv()
    await fake_exchange.inject_garbage(("not json",))
    assert await ws.recv() == "not json"
    fake_exchange.stall_connections()
    await ws.send_text('{"method":"ping"}')
    with anyio.move_on_after(0.5) as scope:
        await ws.recv()
    assert scope.cancelled_caught
    assert fake_exchange.drop_connections() == 1
    with anyio.fail_after(3), pytest.raises(ConnectionLost):
        await drain(ws)


async def test_refused_connections(fake_exchange: FakeExchange) -> None:
    """With refuse_connections set, the server hangs up before answering: no answer at all."""
    fake_exchange.faults.refuse_connections = True
    with pytest.raises(Unreachable, match="before answering the websocket handshake"):
        await connect(fake_exchange.ws_url, open_timeout=2)


async def _read_until_closed(ws: WebSocket) -> None:
    while True:
        await ws.recv()


async def test_offline_refuses_tcp_and_online_serves_the_same_port(fake_exchange: FakeExchange, ws: WebSocket) -> None:
    """go_offline drops every connection and refuses new ones at TCP; go_online listens again."""
    port = fake_exchange.port
    fake_exchange.go_offline()
    with anyio.fail_after(3), pytest.raises(ConnectionLost):
        await _read_until_closed(ws)
    with pytest.raises(Unreachable, match=f"127.0.0.1:{port}"):
        await connect(fake_exchange.ws_url, open_timeout=2)
    with pytest.raises(httpx.ConnectError):
        await post(fake_exchange, {"type": "meta"})
    await fake_exchange.go_online()
    assert fake_exchange.port == port
    again = await connect(fake_exchange.ws_url, open_timeout=2)
    await again.aclose()
    assert (await post(fake_exchange, {"type": "meta"})).status_code == 200


async def test_refused_websockets_leave_rest_working(fake_exchange: FakeExchange) -> None:
    """refuse_websockets answers upgrades with 503 while POST /info still works."""
    fake_exchange.faults.refuse_websockets = True
    with pytest.raises(ConnectionLost, match="503") as refused:
        await connect(fake_exchange.ws_url, open_timeout=2)
    assert not isinstance(refused.value, Unreachable), "the server answered: the full backoff applies"
    assert (await post(fake_exchange, {"type": "meta"})).status_code == 200


async def test_idle_connections_are_closed() -> None:
    """The server drops a websocket whose client sends nothing for the idle timeout."""
    async with FakeExchange(idle_timeout=0.3) as ex:
        conn = await connect(ex.ws_url)
        with anyio.fail_after(3), pytest.raises(ConnectionLost):
            await drain(conn)
        await conn.aclose()


@contextmanager
def simulate(*args: str, lines: int) -> Iterator[list[str]]:
    """Run ``candlewick simulate --port 0 ARGS``; yield the first ``lines`` lines it prints."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "candlewick", "simulate", "--port", "0", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield [proc.stdout.readline() for _ in range(lines)]
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


#: Every weekly candle since the epoch (the exchange serves them from the coin's listing).
WEEKS = {"coin": "BTC", "interval": "1w", "startTime": 0}


def _weekday(t: int) -> str:
    return dt.datetime.fromtimestamp(t / 1000, dt.UTC).strftime("%a")


async def test_every_interval_is_served_on_hyperliquids_grid(fake_exchange: FakeExchange) -> None:
    """All 14 intervals: t on the grid, T + 1 the next open; weeks from Thursday, months from the 1st."""
    now = fake_exchange.now_ms()
    for interval in INTERVALS:
        req = {"coin": "BTC", "interval": interval, "startTime": now - 40 * INTERVAL_MS[interval], "endTime": now}
        resp = await post(fake_exchange, {"type": "candleSnapshot", "req": req})
        page = parse_candle_list(resp.content, now_ms=now)
        assert len(page) >= 30, interval
        assert [disagreement(c) for c in page] == [None] * len(page), interval
    weeks = parse_candle_list((await post(fake_exchange, {"type": "candleSnapshot", "req": WEEKS})).content, now_ms=now)
    assert {_weekday(c.open_time) for c in weeks} == {"Thu"}
    months = await post(fake_exchange, {"type": "candleSnapshot", "req": {**WEEKS, "interval": "1M"}})
    assert {dt.datetime.fromtimestamp(m["t"] / 1000, dt.UTC).day for m in months.json()} == {1}


async def test_grid_shift_plays_an_exchange_aligned_otherwise() -> None:
    """``grid_shift`` moves one interval's grid (weeks from Monday) over REST and the websocket alike."""
    async with FakeExchange(seed=2, push_interval=0.05, grid_shift={"1w": 4 * DAY_MS}) as ex:
        weeks = (await post(ex, {"type": "candleSnapshot", "req": WEEKS})).json()
        assert {_weekday(w["t"]) for w in weeks} == {"Mon"}
        assert all(w["T"] - w["t"] == 7 * DAY_MS - 1 for w in weeks)
        conn = await connect(ex.ws_url)
        try:
            await conn.send_text(json.dumps({"method": "subscribe", "subscription": {**SUB, "interval": "1w"}}))
            msg: dict[str, Any] = {}
            with anyio.fail_after(5):
                while msg.get("channel") != "candle":
                    text = await conn.recv()
                    msg = json.loads(text) if text.startswith("{") else {}
            assert msg["data"]["t"] == weeks[-1]["t"]
        finally:
            await conn.aclose()
        days = (await post(ex, {"type": "candleSnapshot", "req": {**WEEKS, "interval": "1d"}})).json()
        assert all(d["t"] % DAY_MS == 0 for d in days)  # other intervals keep the exchange's grid


def _rest_url(lines: list[str]) -> str:
    return next(line.split('"')[1] for line in lines if "rest_url" in line)


def test_simulate_command_prints_the_urls_it_serves() -> None:
    """``candlewick simulate --port 0`` prints ws_url/rest_url lines that work."""
    with simulate("--seed", "3", "--coins", "BTC", "FOO", lines=4) as lines:
        rest_url = _rest_url(lines)
        assert any(line.strip().startswith('ws_url = "ws://127.0.0.1:') for line in lines)
        resp = httpx.post(rest_url + "/info", json={"type": "meta"})
        assert [u["name"] for u in resp.json()["universe"]] == ["BTC", "FOO"]
        weeks = httpx.post(rest_url + "/info", json={"type": "candleSnapshot", "req": WEEKS}).json()
        assert len(weeks) > 100
        assert {_weekday(w["t"]) for w in weeks} == {"Thu"}  # the same grid as candlewick.testing


def test_simulate_serves_tls_when_given_a_certificate() -> None:
    """``--tls-cert/--tls-key`` switch to wss/https and print the ca_file line."""
    cert = RECORDED / "tls-cert.pem"
    with simulate("--tls-cert", str(cert), "--tls-key", str(RECORDED / "tls-key.pem"), lines=5) as lines:
        rest_url = _rest_url(lines)
        assert rest_url.startswith("https://")
        assert f'ca_file = "{cert}"' in "".join(lines)
        resp = httpx.post(rest_url + "/info", json={"type": "meta"}, verify=ssl.create_default_context(cafile=cert))
        assert resp.status_code == 200
