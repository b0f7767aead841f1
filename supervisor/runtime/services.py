"""The daemon's own children (control socket, metrics endpoint, web API), built after the components."""

from __future__ import annotations

from typing import TYPE_CHECKING

from candlewick.control.server import build_control_server
from candlewick.errors import ConfigError
from candlewick.runtime.daemon import ServiceFactory

if TYPE_CHECKING:
    from candlewick.control.methods import ServiceHost
    from candlewick.plugin import Service

#: What ``[web]`` needs beyond the core, and how to get it.
WEB_EXTRA_HINT = "pip install 'candlewick[web]' (or unset [web] listen)"


def default_services() -> list[ServiceFactory]:
    """Services every ``candlewick run`` starts: the control socket, and metrics and the web API when configured."""
    return [
        ServiceFactory(build=build_control_server),
        ServiceFactory(build=_metrics_server),
        ServiceFactory(build=build_web_server),
    ]


def _metrics_server(daemon: ServiceHost) -> Service | None:
    """The metrics endpoint; prometheus_client (~5 MB resident) is imported only when it is on."""
    if not daemon.settings.metrics.listen:
        return None
    from candlewick.control.prometheus import build_metrics_server

    return build_metrics_server(daemon)


def build_web_server(daemon: ServiceHost) -> Service | None:
    """The web API when ``[web] listen`` is set; its modules are imported only then."""
    if not daemon.settings.web.listen:
        return None
    try:
        from candlewick.web.service import build_web_server as build
    except ImportError as exc:
        raise ConfigError(
            f"web.listen is set but the web API needs the 'web' extra ({exc.name or exc} is not installed)",
            hint=WEB_EXTRA_HINT,
        ) from None
    return build(daemon)
