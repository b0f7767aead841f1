"""Prometheus exposition of the one telemetry registry: ``[metrics] listen = "127.0.0.1:9464"``.

A :class:`TelemetryCollector` turns every counter and gauge of
:class:`~candlewick.runtime.telemetry.Metrics` into prometheus-client metric families at
scrape time (no second copy of the numbers), and :class:`MetricsServer` serves them over a
small anyio HTTP/1.0 responder (asyncio and trio, no threads):

- ``GET /metrics``: the text exposition format (``candlewick_*`` names, listed in the README).
- ``GET /health``: the ``health`` result as JSON; status 200, or 503 when ``failing``.

Counters keep their ``_total`` suffix on the wire. The names and labels are those of
:mod:`candlewick.runtime.names` (whatever a producer registered is exported, so a plugin's
own ``candlewick_*`` metrics appear too). Besides the registry's families it exports
``candlewick_info{version, backend}`` and ``candlewick_start_time_seconds``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterator
from typing import Any, Final

import anyio
import msgspec
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from candlewick.control.methods import ControlHost, ServiceHost
from candlewick.control.views import health_view
from candlewick.errors import ConfigError
from candlewick.plugin import ComponentContext, Service

log = logging.getLogger(__name__)

__all__ = ["METRICS_SERVICE", "MetricsServer", "TelemetryCollector", "build_metrics_server", "parse_address"]

METRICS_SERVICE: Final = "metrics"
#: Longest request head read from a scraper.
MAX_HEAD: Final = 8192
#: Seconds a scraper may take to send its request.
READ_TIMEOUT: Final = 5.0
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def parse_address(value: str, *, key: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` or ``"[::1]:9464"`` -> (host, port)."""
    host, sep, port_s = value.rpartition(":")
    if not sep or not host or not port_s.isdigit() or not 0 <= int(port_s) < 65536:
        raise ConfigError(f"{key}: {value!r} is not HOST:PORT", hint='e.g. "127.0.0.1:9464"')
    return host.strip("[]"), int(port_s)


class TelemetryCollector(Collector):
    """Reads the daemon's telemetry registry at each scrape."""

    def __init__(self, host: ControlHost) -> None:
        self.host = host

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("candlewick", "The running candlewick daemon")
        info.add_metric([], {"version": self.host.version, "backend": self.host.backend})
        yield info
        yield GaugeMetricFamily(
            "candlewick_start_time_seconds", "Unix time the daemon started", value=self.host.started_at
        )
        for metric in self.host.telemetry.metrics.families():
            if not _NAME.match(metric.name) or not all(_NAME.match(label) for label in metric.labelnames):
                log.debug("metric %r has a name Prometheus does not accept; not exported", metric.name)
                continue
            family: CounterMetricFamily | GaugeMetricFamily
            if metric.kind == "counter":
                family = CounterMetricFamily(metric.name, metric.help, labels=metric.labelnames)
            else:
                family = GaugeMetricFamily(metric.name, metric.help, labels=metric.labelnames)
            for labels, value in metric.samples().items():
                family.add_metric(list(labels), value)
            yield family


class MetricsServer(Service):
    """Serves ``/metrics`` and ``/health`` over HTTP."""

    def __init__(self, ctx: ComponentContext[Any], host: ControlHost, *, listen: str) -> None:
        super().__init__(ctx)
        self.host = host
        self.address = parse_address(listen, key="metrics.listen")
        self.port: int | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(TelemetryCollector(host))

    def exposition(self) -> bytes:
        """The current metrics in the text format."""
        return generate_latest(self.registry)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        host, port = self.address
        try:
            listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        except OSError as exc:
            raise ConfigError(
                f"metrics.listen: cannot listen on {host}:{port}: {exc.strerror}",
                hint="pick a free port or unset [metrics] listen",
            ) from exc
        async with listener, anyio.create_task_group() as tg:
            self.port = int(listener.extra(SocketAttribute.local_port))
            log.info("Prometheus metrics on http://%s:%d/metrics", host, self.port)
            task_status.started()
            await listener.serve(self._respond, task_group=tg)

    async def _respond(self, stream: SocketStream) -> None:
        async with stream:
            try:
                head = await self._read_head(stream)
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError, TimeoutError):
                return
            if head is None:
                await self._send(stream, 431, b"request head too large\n")
                return
            method, _, rest = head.partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                await self._send(stream, 405, b"only GET and HEAD\n", extra="Allow: GET, HEAD\r\n")
            elif path == "/metrics":
                await self._send(stream, 200, self.exposition(), CONTENT_TYPE_LATEST, head_only=method == "HEAD")
            elif path == "/health":
                health = health_view(self.host)
                code = 503 if health.status == "failing" else 200
                body = json.dumps(msgspec.to_builtins(health)).encode()
                await self._send(stream, code, body, "application/json", head_only=method == "HEAD")
            elif path == "/":
                await self._send(stream, 200, b"candlewick: metrics at /metrics, health at /health\n")
            else:
                await self._send(stream, 404, b"not found; try /metrics\n")

    async def _read_head(self, stream: SocketStream) -> str | None:
        buf = bytearray()
        with anyio.fail_after(READ_TIMEOUT):
            while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
                buf += await stream.receive(4096)
                if len(buf) > MAX_HEAD:
                    return None
        return buf.split(b"\n", 1)[0].decode("latin-1").strip()

    async def _send(
        self,
        stream: SocketStream,
        code: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        *,
        head_only: bool = False,
        extra: str = "",
    ) -> None:
        reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 431: "Too Large", 503: "Unavailable"}[code]
        head = (
            f"HTTP/1.0 {code} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
        )
        with contextlib.suppress(anyio.BrokenResourceError, OSError):
            await stream.send(head.encode() + (b"" if head_only else body))


def build_metrics_server(daemon: ServiceHost) -> MetricsServer | None:
    """The metrics endpoint of ``daemon`` when ``[metrics] listen`` is set, else None."""
    listen = daemon.settings.metrics.listen
    if not listen:
        return None
    return MetricsServer(daemon.context(METRICS_SERVICE, None), daemon, listen=listen)
