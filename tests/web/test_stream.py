"""/api/v1/stream: live candles as server-sent events, resumed from Last-Event-ID; clients that hang up."""

from __future__ import annotations

import anyio
import pytest

from candlewick.model import MINUTE_MS
from tests.web.conftest import WebRig, seeded, wait_for
from tests.web.sse_client import HANGUP_WARNINGS, read_events

pytestmark = [pytest.mark.anyio, HANGUP_WARNINGS]

BTC = {"coin": "BTC", "interval": "1m"}


async def test_live_updates_of_the_open_candle(rig: WebRig) -> None:
    """First the newest stored candle, then every update the source receives, the open time as id."""
    truth = await seeded(rig, hours=1)
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        async with http.stream("GET", "/api/v1/stream", params=BTC) as reply:
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith("text/event-stream")
            first, *live = await read_events(reply, 60)
        assert first.event == "candle"
        assert first.id >= truth[-1].open_time
        assert all(e.event == "candle" and e.data["time"] == e.id for e in live)
        ids = [e.id for e in live]
        assert ids == sorted(ids)
        assert len(set(ids)) >= 2, "a new minute opened on the 60x clock"
        assert any(e.data["closed"] is False for e in live)
        exchange = rig.exchange.truth("BTC", "1m", ids[0], ids[0])
        assert exchange[0].open == next(e.data["open"] for e in live if e.id == ids[0])


async def test_reconnect_resumes_from_last_event_id(rig: WebRig) -> None:
    """A client back with Last-Event-ID gets the stored candles from there on, in order, then live ones."""
    truth = await seeded(rig, hours=1)
    resume = truth[-20].open_time
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        headers = {"Last-Event-ID": str(resume)}
        async with http.stream("GET", "/api/v1/stream", params=BTC, headers=headers) as reply:
            events = await read_events(reply, 25)
        ids = [e.id for e in events]
        replayed = ids[:20]
        assert replayed == [resume + i * MINUTE_MS for i in range(20)]
        assert [e.data["close"] for e in events[:20]] == [c.close for c in truth[-20:]]
        assert ids == sorted(ids)
        async with http.stream("GET", "/api/v1/stream", params={**BTC, "last_event_id": str(ids[-1])}) as reply:
            (again,) = await read_events(reply, 1)
        assert again.id == ids[-1]


async def test_clients_that_hang_up_release_their_slot(rig: WebRig) -> None:
    """Streams and exports closed mid-way leave no subscription behind; the stream cap holds."""
    await seeded(rig, hours=90)
    async with rig.daemon(rig.settings(web={"max_streams": 2})) as daemon, rig.client(daemon) as http:
        for _ in range(3):
            async with anyio.create_task_group() as tg:
                for _ in range(2):
                    tg.start_soon(_one_event_then_hang_up, http)
            async with http.stream("GET", "/api/v1/export", params=BTC) as reply:
                async for _ in reply.aiter_bytes():
                    break  # hang up after the first chunk of a long export

            async def released() -> bool:
                return len(daemon.live) == 0

            await wait_for(released)
        async with (
            http.stream("GET", "/api/v1/stream", params=BTC) as one,
            http.stream("GET", "/api/v1/stream", params=BTC) as two,
        ):
            assert (one.status_code, two.status_code) == (200, 200)
            third = await http.get("/api/v1/stream", params=BTC)
            assert third.status_code == 503
            assert "too many live streams (2)" in third.json()["error"]["message"]
        assert (await http.get("/api/v1/markets")).status_code == 200


async def _one_event_then_hang_up(http: object) -> None:
    import httpx

    assert isinstance(http, httpx.AsyncClient)
    async with http.stream("GET", "/api/v1/stream", params=BTC) as reply:
        await read_events(reply, 1)


async def test_a_resume_from_long_ago_replays_the_newest_5000_after_a_gap_event(rig: WebRig) -> None:
    """More than 5000 stored since Last-Event-ID: a `gap` event says where the replay resumes."""
    truth = await seeded(rig, hours=90)
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        headers = {"Last-Event-ID": str(truth[0].open_time)}
        async with http.stream("GET", "/api/v1/stream", params=BTC, headers=headers) as reply:
            gap, first, second = await read_events(reply, 3)
    assert (gap.event, gap.id) == ("gap", -1)
    assert gap.data["from"] == truth[0].open_time
    assert gap.data["to"] == first.id
    assert first.id > truth[0].open_time
    assert second.id == first.id + MINUTE_MS
