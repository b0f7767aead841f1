"""The daemon's own children (control socket, metrics endpoint), built after the components."""

from __future__ import annotations

from candlewick.control.prometheus import build_metrics_server
from candlewick.control.server import build_control_server
from candlewick.runtime.daemon import ServiceFactory


def default_services() -> list[ServiceFactory]:
    """Services every ``candlewick run`` starts: the control socket, and metrics when configured."""
    return [ServiceFactory(build=build_control_server), ServiceFactory(build=build_metrics_server)]
