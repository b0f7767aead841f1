"""The web API over the TimescaleDB sink on the machine's PostgreSQL (asyncpg: asyncio only)."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from candlewick.model import Candle
from tests.plugins.storage.helpers import start
from tests.plugins.storage.postgres.conftest import pg_database, pg_dsn, psql, timescale_sink
from tests.web.conftest import WebRig, rows_of, wait_for
from tests.web.sse_client import HANGUP_WARNINGS, read_events

pytestmark = [pytest.mark.anyio, pytest.mark.postgres, HANGUP_WARNINGS]

__all__ = ["pg_database", "pg_dsn"]  # fixtures

BTC = {"coin": "BTC", "interval": "1m"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _seed(rig: WebRig, dsn: str) -> list[Candle]:
    now = rig.exchange.now_ms()
    candles = [c.as_closed() for c in rig.exchange.truth("BTC", "1m", now - now % 60_000 - 3 * 3_600_000, now)]
    sink = timescale_sink(dsn)
    async with anyio.create_task_group() as tg:
        await start(tg, sink)
        await sink.write(candles)
        tg.cancel_scope.cancel()
    return candles


def _sink(dsn: str) -> dict[str, object]:
    return {"use": "timescaledb", "timescaledb": {"dsn": dsn, "reconnect_max": 0.5, "connect_timeout": 2}}


@pytest.fixture
def outage(pg_database: str) -> Iterator[object]:
    """Call it to refuse new connections to the test database and end the reader's sessions.

    Only the read pool's sessions (application_name ``candlewick:<sink>:read``) are terminated,
    while idle: ending the writer's mid-write makes asyncpg raise from a pool release task of
    its own, which pytest would report against this test (the writer's outage is covered by
    tests/plugins/storage/postgres with the daemon in a subprocess)."""
    refused = False

    def begin() -> None:
        nonlocal refused
        refused = True
        psql(f"ALTER DATABASE {pg_database} ALLOW_CONNECTIONS false")
        psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{pg_database}' AND application_name LIKE 'candlewick:%:read'"
        )

    yield begin
    if refused:
        psql(f"ALTER DATABASE {pg_database} ALLOW_CONNECTIONS true")


async def test_api_and_stream_over_timescaledb(rig: WebRig, pg_dsn: str) -> None:
    """Pages, CSV export, coverage and the live stream read PostgreSQL exactly as the exchange sent it."""
    truth = await _seed(rig, pg_dsn)
    end = truth[-1].open_time + 1
    async with rig.daemon(rig.settings(sink=_sink(pg_dsn))) as daemon, rig.client(daemon) as http:
        page = await http.get("/api/v1/candles", params={**BTC, "start": truth[0].open_time, "end": end, "limit": 5000})
        assert page.status_code == 200, page.text
        assert page.json()["rows"] == rows_of(truth)
        export = await http.get("/api/v1/export", params={**BTC, "start": truth[0].open_time, "end": end})
        lines = export.text.splitlines()
        assert lines[0] == "time,open,high,low,close,volume,trades,closed"
        assert len(lines) == len(truth) + 1
        markets = {(m["coin"], m["interval"]): m for m in (await http.get("/api/v1/markets")).json()["markets"]}
        assert markets["BTC", "1m"]["first"] == truth[0].open_time
        days = (await http.get("/api/v1/coverage", params=BTC)).json()["days"]
        assert sum(d["stored"] for d in days) >= len(truth)
        async with http.stream(
            "GET", "/api/v1/stream", params=BTC, headers={"Last-Event-ID": str(truth[-5].open_time)}
        ) as reply:
            events = await read_events(reply, 8)
        assert [e.id for e in events[:5]] == [c.open_time for c in truth[-5:]]


async def test_database_down_while_the_api_is_read(rig: WebRig, pg_dsn: str, outage: object) -> None:
    """With PostgreSQL refusing connections: 503 with a JSON body, the stream still connects; then back."""
    await _seed(rig, pg_dsn)
    async with rig.daemon(rig.settings(sink=_sink(pg_dsn))) as daemon, rig.client(daemon) as http:
        assert (await http.get("/api/v1/candles", params=BTC)).status_code == 200
        assert callable(outage)
        outage()
        reply = await http.get("/api/v1/candles", params=BTC)
        assert reply.status_code == 503
        assert "candle store is unavailable" in reply.json()["error"]["message"]
        assert (await http.get("/api/v1/export", params=BTC)).status_code == 503
        assert (await http.get("/api/v1/coverage", params=BTC)).status_code == 503
        async with http.stream("GET", "/api/v1/stream", params=BTC) as stream:
            assert stream.status_code == 200
            (live,) = await read_events(stream, 1)
            assert live.data["closed"] is False
        psql(f"ALTER DATABASE {pg_dsn.rsplit('/', 1)[1]} ALLOW_CONNECTIONS true")

        async def back() -> bool:
            return (await http.get("/api/v1/candles", params=BTC)).status_code == 200

        await wait_for(back)
