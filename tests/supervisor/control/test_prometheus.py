"""The Prometheus endpoint: the telemetry registry in the text format, and /health."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from candlewick.control.prometheus import MetricsServer
from candlewick.errors import ConfigError
from candlewick.runtime import names
from candlewick.testing.daemon import running_daemon
from tests.supervisor.control.conftest import discard, make_daemon

pytestmark = pytest.mark.anyio


async def http_get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    stream = await anyio.connect_tcp("127.0.0.1", port)
    async with stream:
        await stream.send(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        with anyio.fail_after(5):
            while True:
                try:
                    data += await stream.receive()
                except anyio.EndOfStream:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


async def test_metrics_endpoint_exports_the_registry(tmp_path: Path, sock_dir: Path) -> None:
    """Counters and gauges producers count, under candlewick_* names, plus info and start time."""
    daemon = make_daemon(tmp_path, sock_dir / "c.sock", metrics={"listen": "127.0.0.1:0"})
    server = daemon.components["metrics"]
    assert isinstance(server, MetricsServer)
    async with running_daemon(daemon, until_running=True):
        assert server.port is not None
        code, headers, body = await http_get(server.port, "/metrics")
        assert code == 200
        assert headers["Content-Type"].startswith("text/plain; version=")
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        candles = families["candlewick_candles"]
        assert candles.type == "counter"
        samples = {
            (s.labels["coin"], s.labels["interval"]): s.value for s in candles.samples if s.name.endswith("_total")
        }
        assert samples == {("BTC", "1m"): 3.0, ("ETH", "1m"): 3.0}
        assert families["candlewick_buffer_capacity"].samples[0].value == 1000
        up = {s.labels["component"]: s.value for s in families["candlewick_component_up"].samples}
        assert up == {"mem": 1.0, "through": 1.0, "feed": 1.0, "control": 1.0, "metrics": 1.0}
        info = families["candlewick_info"].samples[0]
        assert info.labels["version"] == daemon.version
        assert families["candlewick_start_time_seconds"].samples[0].value == daemon.started_at
        assert all(name.startswith("candlewick") for name in families)

        code, _, body = await http_get(server.port, "/health")
        assert code == 200
        assert json.loads(body)["status"] == "healthy"
        daemon.telemetry.metrics.gauge(names.SPOOL_BYTES, "b").set(daemon.settings.spool.max_bytes)
        await daemon.supervisor.stop("mem")
        code, _, body = await http_get(server.port, "/health")
        assert (code, json.loads(body)["status"]) == (503, "failing")

        assert (await http_get(server.port, "/nothing"))[0] == 404
        assert (await http_get(server.port, "/metrics", "POST"))[0] == 405
        code, _, body = await http_get(server.port, "/metrics", "HEAD")
        assert (code, body) == (200, b"")


def test_metrics_off_by_default_and_bad_address(tmp_path: Path, sock_dir: Path) -> None:
    daemon = make_daemon(tmp_path, sock_dir / "a.sock")
    assert "metrics" not in daemon.components
    discard(daemon)
    with pytest.raises(ConfigError, match=r"metrics\.listen"):
        make_daemon(tmp_path, sock_dir / "b.sock", metrics={"listen": "nope"})
