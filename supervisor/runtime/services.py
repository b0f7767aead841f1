"""The daemon's own children (control socket, metrics endpoint), built after the components."""

from __future__ import annotations

from candlewick.runtime.daemon import ServiceFactory


def default_services() -> list[ServiceFactory]:
    """Services every ``candlewick run`` starts (the control server lands with its issue)."""
    return []
