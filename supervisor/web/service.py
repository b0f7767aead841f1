"""The web service: the API app under hypercorn, a supervised child of the daemon.

Hypercorn serves on asyncio and trio alike (its ``serve()`` takes a shutdown trigger and sets
no signal handlers), so the service runs in the daemon's task group on either backend and the
supervisor restarts it by policy. The listening socket is bound here and handed to hypercorn
as ``fd://``: a port in use is a configuration error named in our words, and ``port`` is known
(``listen = "127.0.0.1:0"`` picks a free one).
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Final

import anyio
import sniffio
from anyio.abc import TaskStatus

from candlewick.control.methods import ServiceHost
from candlewick.errors import ConfigError
from candlewick.plugin import ComponentContext, Service
from candlewick.web.app import WebOptions, build_app
from candlewick.web.hosts import parse_web_listen

log = logging.getLogger("candlewick.web")

__all__ = ["WEB_SERVICE", "WebServer", "build_web_server"]

WEB_SERVICE: Final = "web"
#: Seconds open streams get to finish when the service stops.
GRACEFUL_TIMEOUT: Final = 1.0
#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE: Final = 15
#: Seconds the whole stop may take before the server is cancelled.
STOP_LIMIT: Final = GRACEFUL_TIMEOUT + 2.0
#: Hypercorn's own messages ("Running on ...") below WARNING are not ours to repeat.
server_log = logging.getLogger("candlewick.web.server")
server_log.setLevel(logging.WARNING)


class WebServer(Service):
    """Serves the HTTP API and the dashboard."""

    def __init__(self, ctx: ComponentContext[Any], host: ServiceHost, options: WebOptions) -> None:
        super().__init__(ctx)
        self.host = host
        self.options = options
        self.port: int | None = None

    def _bind(self) -> socket.socket:
        host, port = self.options.address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"web.listen: cannot listen on {host}:{port}: {exc.strerror}",
                hint="pick a free port or unset [web] listen",
            ) from exc
        return sock

    def _config(self, fd: int) -> Any:
        """Hypercorn's settings: serve the socket ``fd``, no access log, short graceful stop."""
        from hypercorn.config import Config

        config = Config()
        config.bind = [f"fd://{fd}"]
        config.graceful_timeout = GRACEFUL_TIMEOUT
        config.keep_alive_timeout = KEEP_ALIVE
        config.accesslog = None
        config.errorlog = server_log
        config.h2_max_concurrent_streams = self.options.max_clients
        return config

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        sock = self._bind()
        self.port = int(sock.getsockname()[1])
        try:
            app = build_app(self.host, self.options)
        except BaseException:
            sock.close()
            raise
        config = self._config(sock.detach())  # hypercorn owns the listening socket from here on
        host = self.options.address[0]
        log.info("web API and dashboard on http://%s:%d/", f"[{host}]" if ":" in host else host, self.port)
        stop = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._serve, app, config, stop)
            task_status.started()
            try:
                await anyio.sleep_forever()
            finally:
                stop.set()  # cancelled (shutdown, restart): hypercorn's own graceful stop, below

    async def _serve(self, app: Any, config: Any, stop: anyio.Event) -> None:
        """Serve until ``stop`` is set, then let hypercorn close its sockets and connections.

        Shielded: a cancelled hypercorn would leave its listening socket and connections half
        closed. Its graceful stop waits ``GRACEFUL_TIMEOUT`` for open responses (live streams
        never end by themselves), and this waits at most ``STOP_LIMIT`` for all of it.
        """
        with anyio.CancelScope(shield=True) as shield:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_cancel_after_stop, stop, shield)
                if sniffio.current_async_library() == "trio":
                    from hypercorn.trio import serve as trio_serve

                    await trio_serve(app, config, shutdown_trigger=stop.wait)
                else:
                    from hypercorn.asyncio import serve as asyncio_serve

                    await asyncio_serve(app, config, shutdown_trigger=stop.wait)
                tg.cancel_scope.cancel()


async def _cancel_after_stop(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    await stop.wait()
    await anyio.sleep(STOP_LIMIT)
    log.warning("web: the server did not stop within %gs; cancelling it", STOP_LIMIT)
    scope.cancel()


def build_web_server(daemon: ServiceHost) -> WebServer | None:
    """The web service of ``daemon`` when ``[web] listen`` is set, else None."""
    web = daemon.settings.web
    if not web.listen:
        return None
    options = WebOptions.from_settings(web, address=parse_web_listen(web.listen))
    return WebServer(daemon.context(WEB_SERVICE, None), daemon, options)
