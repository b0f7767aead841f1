"""The web app: Starlette routes behind the :class:`~candlewick.web.guard.Guard`.

Routes (a public contract, documented in the README and in ``/api/v1/openapi.json``):
``/`` the dashboard, ``/static/...`` its files, ``/health``, ``/metrics``, and under
``/api/v1``: ``status``, ``markets``, ``candles``, ``export``, ``coverage``, ``stream``, ``openapi.json``
and ``docs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.routing import Route

from candlewick.errors import ConfigError
from candlewick.runtime import names
from candlewick.web import pages, routes, sse
from candlewick.web.guard import Guard, GuardOptions
from candlewick.web.hosts import HostAllowList

if TYPE_CHECKING:
    from candlewick.config import WebSection
    from candlewick.control.methods import ServiceHost

__all__ = ["WebOptions", "build_app"]

MIN_TOKEN = 16


@dataclass(frozen=True)
class WebOptions:
    """``[web]`` settings, checked: where to listen, who may ask, how many at once."""

    address: tuple[str, int]
    token: str | None
    allowed_hosts: tuple[str, ...]
    cors_origins: tuple[str, ...]
    max_clients: int
    max_streams: int

    @classmethod
    def from_settings(cls, web: WebSection, *, address: tuple[str, int]) -> WebOptions:
        token = web.token
        if web.token_file is not None:
            token = _read_token(web.token_file)
        if token is not None and len(token) < MIN_TOKEN:
            raise ConfigError(f"web.token is shorter than {MIN_TOKEN} characters", hint="use a long random string")
        return cls(
            address=address,
            token=token,
            allowed_hosts=tuple(web.allowed_hosts),
            cors_origins=tuple(web.cors_origins),
            max_clients=web.max_clients,
            max_streams=web.max_streams,
        )


def _read_token(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"web.token_file {str(path)!r} cannot be read: {exc.strerror}") from exc


def build_app(host: ServiceHost, options: WebOptions) -> Guard:
    """The ASGI app serving ``host``'s store and live feed."""
    api = routes.Api(host)
    stream = sse.LiveStream(host, max_streams=options.max_streams)
    app = Starlette(
        routes=[
            Route("/", pages.dashboard),
            Route("/static/{path:path}", pages.static_file),
            Route("/health", api.health),
            Route("/metrics", api.metrics),
            Route("/api/v1/status", api.status),
            Route("/api/v1/markets", api.markets),
            Route("/api/v1/candles", api.candles),
            Route("/api/v1/export", api.export),
            Route("/api/v1/coverage", api.coverage),
            Route("/api/v1/stream", stream.endpoint),
            Route("/api/v1/openapi.json", pages.openapi),
            Route("/api/v1/docs", pages.api_docs),
        ],
        exception_handlers={404: routes.not_found, 405: routes.not_found},
    )
    metrics = host.telemetry.metrics
    requests = metrics.counter(names.WEB_REQUESTS, "HTTP requests answered by the web API", ("status",))
    guard = Guard(
        app,
        GuardOptions(
            hosts=HostAllowList(options.address[0], options.allowed_hosts),
            token=options.token,
            cors_origins=frozenset(options.cors_origins),
            max_clients=options.max_clients,
            count=lambda status: requests.inc(status=str(status)),
        ),
    )
    metrics.gauge(names.WEB_ACTIVE, "Web API requests being served").set_function(lambda: float(guard.active))
    metrics.gauge(names.WEB_STREAMS, "Live streams open").set_function(lambda: float(stream.open))
    return guard
