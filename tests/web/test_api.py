"""The HTTP API of a real daemon (fake exchange, SQLite) through httpx, on asyncio and trio."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.web.conftest import WebRig, rows_of, seeded, wait_for

pytestmark = pytest.mark.anyio

CSV_HEADER = "time,open,high,low,close,volume,trades,closed"


async def test_candles_page_by_page_exactly_as_stored(rig: WebRig) -> None:
    """JSON pages of exact decimal strings follow their `next` cursor to the end of the range."""
    truth = await seeded(rig, hours=3)
    end = truth[-1].open_time + 1
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        rows: list[list[object]] = []
        url: str | None = f"/api/v1/candles?coin=BTC&interval=1m&start={truth[0].open_time}&end={end}&limit=70"
        pages = 0
        while url is not None:
            reply = await http.get(url)
            assert reply.status_code == 200, reply.text
            body = reply.json()
            assert body["columns"] == CSV_HEADER.split(",")
            assert len(body["rows"]) <= 70
            rows += body["rows"]
            url = body["next"]
            pages += 1
        assert rows == rows_of(truth)
        assert pages == -(-len(truth) // 70)
        markets = (await http.get("/api/v1/markets")).json()["markets"]
        btc = next(m for m in markets if (m["coin"], m["interval"]) == ("BTC", "1m"))
        assert btc["first"] == truth[0].open_time
        assert btc["count"] >= len(truth)
        assert btc["followed"] is True


async def test_csv_ndjson_columns_and_iso_times(rig: WebRig) -> None:
    """format=csv has the contract header and the exchange's strings; ISO-8601 bounds; a column subset."""
    truth = (await seeded(rig, hours=1))[:10]
    start, end = truth[0].open_time, truth[-1].open_time + 1
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        iso = httpx.QueryParams(coin="BTC", interval="1m", start=_iso(start), end=str(end), format="csv")
        reply = await http.get("/api/v1/candles", params=iso)
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/csv")
        lines = reply.text.splitlines()
        assert lines[0] == CSV_HEADER
        expected = [f"{c.open_time},{c.open},{c.high},{c.low},{c.close},{c.volume},{c.trades},true" for c in truth]
        assert lines[1:] == expected
        reply = await http.get(
            "/api/v1/candles", params={"coin": "BTC", "interval": "1m", "start": start, "end": end, "format": "ndjson"}
        )
        objects = [json.loads(line) for line in reply.text.splitlines()]
        assert [o["close"] for o in objects] == [c.close for c in truth]
        reply = await http.get(
            "/api/v1/candles",
            params={"coin": "BTC", "interval": "1m", "start": start, "end": end, "columns": "close,time"},
        )
        assert reply.json()["rows"] == [[c.close, c.open_time] for c in truth]


async def test_export_streams_the_whole_range(rig: WebRig) -> None:
    """/api/v1/export returns every row of the range in one streamed CSV, more than a JSON page holds."""
    truth = await seeded(rig, hours=90)
    assert len(truth) > 5000
    end = truth[-1].open_time + 1
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        lines: list[str] = []
        params: dict[str, str | int] = {"coin": "BTC", "interval": "1m", "start": truth[0].open_time, "end": end}
        async with http.stream("GET", "/api/v1/export", params=params) as reply:
            assert reply.status_code == 200
            assert "attachment" in reply.headers["content-disposition"]
            async for line in reply.aiter_lines():
                lines.append(line)
        assert lines[0] == CSV_HEADER
        assert len(lines) - 1 == len(truth)
        assert lines[-1].startswith(f"{truth[-1].open_time},{truth[-1].open},")
        limited = await http.get("/api/v1/export", params={**params, "limit": 7, "format": "ndjson"})
        assert len(limited.text.splitlines()) == 7
        odd = await http.get("/api/v1/export", params={"coin": 'PURR/"x"\r\nSet-Cookie: a=b', "interval": "1m"})
        assert odd.status_code == 200
        assert odd.headers["content-disposition"] == 'attachment; filename="PURR__x___Set-Cookie__a_b-1m.csv"'
        assert "set-cookie" not in odd.headers


@pytest.mark.parametrize(
    ("query", "parameter", "message"),
    [
        ("interval=1m", "coin", "missing parameter 'coin'"),
        ("coin=BTC&interval=7m", "interval", "parameter 'interval' must be one of 1m, 3m"),
        ("coin=BTC&interval=1m&limit=0", "limit", "parameter 'limit' must be an integer from 1 to 5000, got 0"),
        ("coin=BTC&interval=1m&limit=5001", "limit", "from 1 to 5000, got 5001"),
        ("coin=BTC&interval=1m&start=yesterday", "start", "parameter 'start': 'yesterday' is not a time"),
        ("coin=BTC&interval=1m&start=2000&end=1000", "end", "parameter 'end' must be after 'start'"),
        ("coin=BTC&interval=1m&format=xml", "format", "must be one of json, csv, ndjson, got 'xml'"),
        ("coin=BTC&interval=1m&columns=time,nope", "columns", "columns must be distinct names out of time,open"),
        ("coin=BTC&interval=1m&closed_only=maybe", "closed_only", "must be true or false"),
    ],
)
async def test_bad_parameters_are_named(rig: WebRig, query: str, parameter: str, message: str) -> None:
    """A 400 with a JSON body naming the parameter and what it allows."""
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        reply = await http.get(f"/api/v1/candles?{query}")
        assert reply.status_code == 400
        error = reply.json()["error"]
        assert error["parameter"] == parameter
        assert message in error["message"]
        assert (await http.get("/api/v1/export?interval=1m&format=csv")).json()["error"]["parameter"] == "coin"
        assert (await http.get("/api/v1/export?coin=BTC&interval=1m&format=json")).json()["error"][
            "parameter"
        ] == "format"
        assert (await http.get("/api/v1/coverage?coin=BTC")).json()["error"]["parameter"] == "interval"
        assert (await http.get("/api/v1/stream?coin=BTC&interval=2s")).json()["error"]["parameter"] == "interval"
        missing = await http.get("/api/v2/nothing")
        assert missing.status_code == 404
        assert "openapi.json" in missing.json()["error"]["message"]


async def test_health_metrics_openapi_and_dashboard(rig: WebRig) -> None:
    """/health and /metrics read the daemon's registry; the OpenAPI document and the page are served locally."""
    await seeded(rig, hours=1)
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        health = await http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] in ("healthy", "degraded")
        metrics = await http.get("/metrics")
        assert "candlewick_component_up" in metrics.text
        assert 'component="web"' in metrics.text
        assert 'candlewick_web_requests_total{status="200"}' in metrics.text
        assert "candlewick_web_requests_active 1.0" in metrics.text, "this very request"
        assert "candlewick_web_streams 0.0" in metrics.text
        doc = (await http.get("/api/v1/openapi.json")).json()
        assert {"/api/v1/candles", "/api/v1/stream", "/api/v1/export", "/api/v1/coverage"} <= set(doc["paths"])
        assert "/api/v1/candles" in (await http.get("/api/v1/docs")).text
        page = await http.get("/")
        assert '<meta name="viewport"' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        vendor = await http.get("/static/vendor/lightweight-charts.standalone.production.js")
        assert vendor.status_code == 200
        assert "TradingView" in vendor.text[:300]
        assert (await http.get("/static/vendor/NOTICE")).status_code == 200
        assert (await http.get("/static/../config.py")).status_code == 404
        status = (await http.get("/api/v1/status")).json()
        assert {c["name"] for c in status["components"]} >= {"sqlite", "memory", "hyperliquid", "web"}
        assert (await http.head("/api/v1/markets")).status_code == 200


def _iso(ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_markets_answer_while_the_sink_is_stopped(rig: WebRig) -> None:
    """The reader has its own connection: with the sink's writer stopped, reads still answer."""
    await seeded(rig, hours=1)
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        await daemon.supervisor.stop("sqlite")
        reply = await http.get("/api/v1/candles", params={"coin": "BTC", "interval": "1m", "limit": 5})
        assert reply.status_code == 200
        assert len(reply.json()["rows"]) == 5

        async def sink_check_fails() -> bool:
            checks = (await http.get("/health")).json()["checks"]
            return any(c["name"] == "component:sqlite" and not c["ok"] for c in checks)

        await wait_for(sink_check_fails)
        daemon.supervisor.start("sqlite")  # the buffer drains into it again at shutdown


async def test_coverage_counts_stored_against_expected_per_day(rig: WebRig) -> None:
    """Per UTC day of the stored range: expected candles, stored ones, and what is missing."""
    truth = await seeded(rig, hours=50)  # one whole UTC day at least
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        reply = await http.get("/api/v1/coverage", params={"coin": "BTC", "interval": "1m"})
        assert reply.status_code == 200, reply.text
        days = reply.json()["days"]
        assert days[0]["day"] == truth[0].open_time - truth[0].open_time % 86_400_000
        assert sum(d["stored"] for d in days) >= len(truth)
        whole = days[1:-1]
        assert whole
        assert all(d["expected"] == 1440 and d["stored"] == 1440 and d["complete"] for d in whole)
        assert {"empty", "lost", "missing"} <= set(days[0])
        bounded = await http.get("/api/v1/coverage", params={"coin": "BTC", "interval": "1m", "start": days[-1]["day"]})
        assert len(bounded.json()["days"]) == 1


async def test_the_service_restarts_under_the_supervisor(rig: WebRig) -> None:
    """Restarted (as after a crash), the web service listens again on its port and answers."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with rig.daemon(rig.settings(web={"listen": f"127.0.0.1:{port}"})) as daemon, rig.client(daemon) as http:
        assert (await http.get("/health")).status_code == 200
        child = daemon.supervisor.child("web")
        await daemon.supervisor.restart("web")

        async def answers_again() -> bool:
            try:
                return child.restarts >= 1 and (await http.get("/health")).status_code == 200
            except httpx.TransportError:
                return False

        await wait_for(answers_again)


async def test_head_answers_without_a_body(rig: WebRig) -> None:
    await seeded(rig, hours=1)
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        for path in ("/api/v1/export", "/api/v1/candles", "/api/v1/stream", "/api/v1/coverage"):
            reply = await http.head(path, params={"coin": "BTC", "interval": "1m"})
            assert (reply.status_code, reply.content) == (200, b""), path
