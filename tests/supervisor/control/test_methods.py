"""The public control methods against a real daemon, through the real client."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from candlewick.control import protocol as p
from candlewick.control.client import ControlClient
from candlewick.runtime import names
from candlewick.runtime.policy import ChildState
from candlewick.testing.daemon import wait_running
from tests.supervisor.control.conftest import Running, make_daemon

pytestmark = pytest.mark.anyio


async def call(running: Running, method: str, params: dict[str, Any] | None = None) -> Any:
    async with ControlClient.connect(running.socket) as client:
        return await client.call(method, params)


async def rpc_error(running: Running, method: str, params: dict[str, Any] | None = None) -> p.RpcError:
    with pytest.raises(p.RpcError) as info:
        await call(running, method, params)
    return info.value


async def test_hello_announces_versions_and_every_method(running: Running) -> None:
    hello = await call(running, "hello")
    assert hello["protocol"] == p.PROTOCOL_VERSION
    assert hello["daemon"] == running.daemon.version
    assert hello["pid"] == os.getpid()
    expected = {
        "hello", "health", "status", "stats", "component.restart", "component.stop", "component.start",
        "markets.list", "markets.add", "markets.remove", "backfill.start", "backfill.list", "backfill.cancel",
        "candles.recent", "subscribe", "unsubscribe", "shutdown",
    }  # fmt: skip
    assert expected <= set(hello["methods"])


async def test_hello_from_an_incompatible_client_is_refused(running: Running) -> None:
    """A client announcing protocol 2.x gets PROTOCOL_MISMATCH naming both versions."""
    err = await rpc_error(running, "hello", {"protocol": "2.0"})
    assert err.code == p.PROTOCOL_MISMATCH
    assert "1.0" in err.message
    assert "2.0" in err.message


async def test_status_lists_the_daemon_and_every_component(running: Running, anyio_backend: str) -> None:
    status = await call(running, "status")
    daemon = status["daemon"]
    assert daemon["backend"] == anyio_backend
    assert {"version", "pid", "uptime", "started_at", "config_path", "backend", "socket", "health"} <= set(daemon)
    assert daemon["socket"] == str(running.socket)
    assert daemon["health"] == "healthy"
    assert daemon["uptime"] >= 0
    by_name = {c["name"]: c for c in status["components"]}
    assert set(by_name) == {"feed", "through", "mem", "control"}
    feed = by_name["feed"]
    assert {"name", "kind", "state", "restarts", "last_error", "uptime", "critical", "restart"} <= set(feed)
    assert (feed["kind"], feed["state"], feed["restarts"], feed["last_error"]) == ("source", "running", 0, None)


async def test_stats_reads_the_telemetry_registry(running: Running) -> None:
    stats = await call(running, "stats")
    assert (stats["frames_in"], stats["candles_in"], stats["rows_written"]) == (6, 6, 6)
    assert stats["buffer"] == {"depth": 0, "capacity": 1000}
    assert stats["spool"] == {"batches": 0, "bytes": 0, "oldest_age": None}
    assert stats["rest"] == {"weight_used": 0, "weight_last_minute": 0, "budget_per_minute": 0}
    assert stats["sink"] == {"name": "mem", "rows_written": 6, "write_latency": None, "errors": 0}
    btc = next(m for m in stats["markets"] if m["coin"] == "BTC")
    assert btc["source"] == "feed"
    assert btc["interval"] == "1m"
    assert btc["last_candle_time"] == 1_700_000_160_000
    assert btc["candles"] == 3
    assert btc["frames"] == 3, "frames counted per source only: shown as the market's candle updates"
    assert btc["lag"] is not None
    assert btc["lag"] < 60
    assert (btc["gaps_found"], btc["gaps_repaired"], btc["permanent_losses"]) == (0, 0, 0)


async def test_health_degrades_and_fails_with_the_registry(running: Running) -> None:
    """Spool non-empty or a stale market: degraded. Sink down with the spool at its cap: failing."""
    metrics = running.daemon.telemetry.metrics
    assert (await call(running, "health"))["status"] == "healthy"
    metrics.gauge(names.SPOOL_BATCHES, "batches").set(2)
    health = await call(running, "health")
    assert health["status"] == "degraded"
    spool = next(c for c in health["checks"] if c["name"] == "spool")
    assert spool["ok"] is False
    assert "2 batches" in spool["detail"]
    metrics.gauge(names.SPOOL_BATCHES, "batches").set(0)
    stale = running.daemon.clock.time() - 3600
    metrics.gauge(names.LAST_FRAME, "f", ("source", "coin", "interval")).set(
        stale, source="feed", coin="ETH", interval="1m"
    )
    health = await call(running, "health")
    assert health["status"] == "degraded"
    assert any(c["name"] == "market:feed:ETH:1m" and not c["ok"] for c in health["checks"])
    metrics.gauge(names.LAST_FRAME, "f", ("source", "coin", "interval")).set(
        running.daemon.clock.time(), source="feed", coin="ETH", interval="1m"
    )
    metrics.gauge(names.SPOOL_BYTES, "bytes").set(running.daemon.settings.spool.max_bytes)
    metrics.gauge(names.SPOOL_BATCHES, "batches").set(9)
    await call(running, "component.stop", {"name": "mem"})
    health = await call(running, "health")
    assert health["status"] == "failing"
    assert any(c["name"] == "sink" and "cap" in c["detail"] for c in health["checks"])


async def test_a_clock_off_the_exchange_shows_in_status_stats_and_health(running: Running) -> None:
    """The measured offset is in status and stats; past max_clock_offset health is degraded, saying to fix NTP."""
    for method in ("status", "stats"):
        result = await call(running, method)
        assert (result["clock_offset_ms"], result["clock"]) == (None, None)
    metrics = running.daemon.telemetry.metrics
    offset = metrics.gauge(names.CLOCK_OFFSET, "o", ("source",))
    spread = metrics.gauge(names.CLOCK_OFFSET_UNCERTAINTY, "u", ("source",))
    offset.set(0.25, source="feed")
    spread.set(0.5, source="feed")
    health = await call(running, "health")
    assert health["status"] == "healthy"
    check = next(c for c in health["checks"] if c["name"] == "clock:feed")
    assert check["ok"] is True
    assert check["detail"] == "the local clock is 0.2 s ahead of the exchange (±0.5 s); within 5 s"
    offset.set(120.3, source="feed")
    for method in ("status", "stats"):
        result = await call(running, method)
        assert result["clock_offset_ms"] == 120_300
        assert result["clock"] == {
            "source": "feed", "offset_ms": 120_300, "uncertainty_ms": 500, "max_offset_ms": 5000, "ok": False,
            "detail": "the local clock is 120.3 s ahead of the exchange (±0.5 s)",
        }  # fmt: skip
    health = await call(running, "health")
    assert health["status"] == "degraded"
    check = next(c for c in health["checks"] if c["name"] == "clock:feed")
    assert check["ok"] is False
    assert check["detail"].startswith("the local clock is 120.3 s ahead of the exchange (±0.5 s), more than 5 s; ")
    assert "fix NTP" in check["detail"]
    spread.set(math.inf, source="feed")  # only an upper bound: "ahead" is not proven, "behind" is
    assert (await call(running, "health"))["status"] == "healthy"
    assert (await call(running, "stats"))["clock"]["uncertainty_ms"] is None
    offset.set(-7.0, source="feed")
    check = next(c for c in (await call(running, "health"))["checks"] if c["name"] == "clock:feed")
    assert check["detail"].startswith("the local clock is at least 7.0 s behind the exchange, more than 5 s; fix NTP")


async def test_component_stop_start_restart(running: Running) -> None:
    stopped = await call(running, "component.stop", {"name": "feed"})
    assert stopped["state"] == "stopped"
    assert (await call(running, "health"))["status"] == "degraded"
    started = await call(running, "component.start", {"name": "feed"})
    assert started["state"] in ("starting", "running")
    await wait_running(running.daemon, "feed")
    await call(running, "component.restart", {"name": "feed"})
    with anyio.fail_after(5):
        while running.daemon.supervisor.child("feed").restarts < 1:
            await anyio.sleep(0.01)
    await wait_running(running.daemon, "feed")
    assert running.daemon.supervisor.child("feed").state is ChildState.RUNNING


async def test_component_errors(running: Running) -> None:
    """Unknown names are NOT_FOUND listing the components; the control server will not stop itself."""
    err = await rpc_error(running, "component.restart", {"name": "nope"})
    assert err.code == p.NOT_FOUND
    assert "feed" in err.message
    err = await rpc_error(running, "component.stop", {"name": "control"})
    assert err.code == p.UNSUPPORTED
    err = await rpc_error(running, "component.stop", {})
    assert err.code == p.INVALID_PARAMS
    assert "name" in err.message


async def test_markets_list_add_remove(running: Running) -> None:
    listed = await call(running, "markets.list")
    assert listed == {
        "markets": [
            {"source": "feed", "coin": "BTC", "interval": "1m"},
            {"source": "feed", "coin": "ETH", "interval": "1m"},
        ]
    }
    added = await call(running, "markets.add", {"coin": "SOL", "interval": "5m"})
    assert added["added"] == {"source": "feed", "coin": "SOL", "interval": "5m"}
    assert {"source": "feed", "coin": "SOL", "interval": "5m"} in added["markets"]
    removed = await call(running, "markets.remove", {"coin": "SOL", "interval": "5m", "source": "feed"})
    assert {"source": "feed", "coin": "SOL", "interval": "5m"} not in removed["markets"]
    assert (await rpc_error(running, "markets.add", {"coin": "SOL", "interval": "2m"})).code == p.INVALID_PARAMS
    assert (await rpc_error(running, "markets.add", {"coin": "NOPE", "interval": "1m"})).code == p.INVALID_PARAMS
    assert (await rpc_error(running, "markets.remove", {"coin": "XRP", "interval": "1m"})).code == p.NOT_FOUND
    err = await rpc_error(running, "markets.add", {"coin": "SOL", "interval": "1m", "source": "other"})
    assert err.code == p.NOT_FOUND
    assert "feed" in err.message


async def test_backfill_without_a_backfill_service(running: Running) -> None:
    """Every backfill method answers NO_BACKFILL, 'no backfill service is running', with a hint."""
    for method, params in (
        ("backfill.start", {"coin": "BTC", "intervals": ["1m"], "days": 3}),
        ("backfill.list", {}),
        ("backfill.cancel", {"id": "1"}),
    ):
        err = await rpc_error(running, method, params)
        assert err.code == p.NO_BACKFILL
        assert err.message == "no backfill service is running"
        assert isinstance(err.data, dict)
        assert err.data["hint"]


async def test_candles_recent_from_the_sink(running: Running) -> None:
    result = await call(running, "candles.recent", {"coin": "BTC", "interval": "1m", "limit": 2})
    assert result["candles"] == [
        {"time": t, "close_time": t + 59_999, "open": "100.5", "high": "101", "low": "99", "close": "100.75",
         "volume": "12.5", "trades": 7, "closed": True, "derived": False}
        for t in (1_700_000_100_000, 1_700_000_160_000)
    ]  # fmt: skip
    assert (await rpc_error(running, "candles.recent", {"coin": "BTC", "interval": "1m", "limit": 0})).code == (
        p.INVALID_PARAMS
    )
    assert (await rpc_error(running, "candles.recent", {"interval": "1m"})).code == p.INVALID_PARAMS
    await call(running, "component.stop", {"name": "mem"})
    assert (await rpc_error(running, "candles.recent", {"coin": "BTC", "interval": "1m"})).code == p.SINK_UNAVAILABLE


async def test_subscriptions_push_stats_events_and_logs(running: Running) -> None:
    """stats at once and every second, events as they happen, logs from the logging handler."""
    async with ControlClient.connect(running.socket) as client:
        assert await client.subscribe(["stats", "events", "logs"]) == ["events", "logs", "stats"]
        await client.call("component.restart", {"name": "feed"})
        logging.getLogger("candlewick.test").warning("hello from the test")
        seen: dict[str, list[Any]] = {"stats": [], "events": [], "logs": []}
        with anyio.fail_after(10):
            async for note in client.notifications():
                seen[note.method].append(note.params)
                logs_ok = any(r["message"] == "hello from the test" for r in seen["logs"])
                events_ok = any(e["source"] == "feed" and e["kind"] == "state" for e in seen["events"])
                if len(seen["stats"]) >= 2 and logs_ok and events_ok:
                    break
        assert seen["stats"][0]["candles_in"] >= 6
        record = next(r for r in seen["logs"] if r["message"] == "hello from the test")
        assert (record["level"], record["logger"]) == ("WARNING", "candlewick.test")
        event = next(e for e in seen["events"] if e["source"] == "feed")
        assert {"seq", "time", "kind", "source", "message", "data"} <= set(event)
        assert await client.unsubscribe(["stats", "logs"]) == ["events"]
        with pytest.raises(p.RpcError) as info:
            await client.subscribe(["weather"])
        assert info.value.code == p.INVALID_PARAMS


async def test_events_recent(running: Running) -> None:
    result = await call(running, "events.recent", {"limit": 5})
    assert 0 < len(result["events"]) <= 5
    assert all(e["kind"] for e in result["events"])


async def test_shutdown_stops_the_daemon(tmp_path: Path, sock_dir: Path) -> None:
    socket = sock_dir / "s.sock"
    daemon = make_daemon(tmp_path, socket)
    codes: list[int] = []

    async def run() -> None:
        codes.append(await daemon.run(signals=False))

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await wait_running(daemon)
            async with ControlClient.connect(socket) as client:
                assert await client.call("shutdown", {"reason": "test"}) == {"ok": True}
    assert codes == [0]
    assert not socket.exists()
