"""Who gets in: read-only methods, the Host allow-list, the token (header, URL, cookie), CORS, caps."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import TOKEN, WebRig, seeded
from tests.web.sse_client import HANGUP_WARNINGS, read_events

pytestmark = [pytest.mark.anyio, HANGUP_WARNINGS]

BTC = {"coin": "BTC", "interval": "1m"}


async def test_only_get_and_head(rig: WebRig) -> None:
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            reply = await http.request(method, "/api/v1/markets")
            assert reply.status_code == 405, method
            assert reply.headers["allow"] == "GET, HEAD"
            assert "read-only" in reply.json()["error"]["message"]


async def test_host_allow_list_against_dns_rebinding(rig: WebRig) -> None:
    """Loopback names and the configured hosts are answered; any other Host header is refused."""
    settings = rig.settings(web={"allowed_hosts": ["nas.local:8000", "candles.lan"]})
    async with rig.daemon(settings) as daemon, rig.client(daemon) as http:
        for host in ("localhost:8000", "127.0.0.1", "[::1]:1234", "nas.local:8000", "candles.lan:9999"):
            assert (await http.get("/health", headers={"Host": host})).status_code == 200, host
        for host in ("attacker.example", "nas.local:8001", "127.0.0.1.nip.io"):
            reply = await http.get("/health", headers={"Host": host})
            assert reply.status_code == 421, host
            assert reply.json()["error"]["parameter"] == "Host"


async def test_token_by_header_url_or_cookie(rig: WebRig) -> None:
    """Without the token: 401. With it as a bearer header, or once in the URL (which sets a cookie)."""
    await seeded(rig, hours=1)
    async with rig.daemon(rig.settings(web={"token": TOKEN})) as daemon, rig.client(daemon) as http:
        refused = await http.get("/api/v1/markets")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert "token is required" in refused.json()["error"]["message"]
        wrong = await http.get("/api/v1/markets", headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["error"]["message"]) == (401, "the token is wrong")
        assert (await http.get("/health", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
        assert (await http.get("/", params={"token": "nope"})).status_code == 401
        page = await http.get("/", params={"token": TOKEN})
        assert (page.status_code, page.headers["location"]) == (303, "/"), "the token leaves the address bar"
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert (await http.get("/")).status_code == 200, "the cookie lets the page in"
        assert (await http.get("/api/v1/markets")).status_code == 200, "and its fetches"
        async with http.stream("GET", "/api/v1/stream", params=BTC) as reply:
            assert reply.status_code == 200, "and its EventSource, which cannot send a header"
            assert len(await read_events(reply, 1)) == 1
    async with (
        rig.daemon(rig.settings(web={"token": TOKEN})) as daemon,
        rig.client(daemon) as fresh,
        fresh.stream("GET", "/api/v1/stream", params={**BTC, "token": TOKEN}) as reply,
    ):
        assert reply.status_code == 200


async def test_no_cors_unless_configured(rig: WebRig) -> None:
    origin = {"Origin": "https://grafana.example"}
    async with rig.daemon(rig.settings()) as daemon, rig.client(daemon) as http:
        reply = await http.get("/health", headers=origin)
        assert "access-control-allow-origin" not in reply.headers
    settings = rig.settings(web={"cors_origins": ["https://grafana.example"]})
    async with rig.daemon(settings) as daemon, rig.client(daemon) as http:
        reply = await http.get("/health", headers=origin)
        assert reply.headers["access-control-allow-origin"] == "https://grafana.example"
        preflight = await http.options("/api/v1/candles", headers=origin)
        assert preflight.status_code == 204
        other = await http.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_requests_at_once_are_capped(rig: WebRig) -> None:
    """Past max_clients the service answers 503 at once instead of queueing."""
    await seeded(rig, hours=1)
    async with rig.daemon(rig.settings(web={"max_clients": 1})) as daemon, rig.client(daemon) as http:
        async with http.stream("GET", "/api/v1/stream", params=BTC) as reply:
            await read_events(reply, 1)
            busy = await http.get("/health")
            assert busy.status_code == 503
            assert "too many requests at once (1)" in busy.json()["error"]["message"]
        async with httpx.AsyncClient(base_url=str(http.base_url)) as again:
            assert (await again.get("/health")).status_code == 200
