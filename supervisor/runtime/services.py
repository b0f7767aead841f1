"""The daemon's own children (control socket, metrics endpoint), built after the components."""

from __future__ import annotations

from typing import TYPE_CHECKING

from candlewick.control.server import build_control_server
from candlewick.runtime.daemon import ServiceFactory

if TYPE_CHECKING:
    from candlewick.control.methods import ServiceHost
    from candlewick.plugin import Service


def default_services() -> list[ServiceFactory]:
    """Services every ``candlewick run`` starts: the control socket, and metrics when configured."""
    return [ServiceFactory(build=build_control_server), ServiceFactory(build=_metrics_server)]


def _metrics_server(daemon: ServiceHost) -> Service | None:
    """The metrics endpoint; prometheus_client (~5 MB resident) is imported only when it is on."""
    if not daemon.settings.metrics.listen:
        return None
    from candlewick.control.prometheus import build_metrics_server

    return build_metrics_server(daemon)
