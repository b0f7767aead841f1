"""Builds the gap repair companion of every configured source that offers one.

A source plugin offers gap repair by registering a source spec named ``<source>-backfill``
(see :mod:`candlewick.gaps.component`). :func:`backfill_services` returns the daemon service
factories that build it beside its source, so ``[sources.hyperliquid]`` alone gets gap
repair; ``[sources.hyperliquid-backfill]`` tunes it (then the daemon builds it from that table
itself and the factory steps aside).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from candlewick.config import validate_section
from candlewick.errors import ConfigError
from candlewick.plugin import Component
from candlewick.runtime.daemon import ServiceFactory

if TYPE_CHECKING:
    from candlewick.runtime.daemon import Daemon

__all__ = ["COMPANION_SUFFIX", "backfill_services", "build_companions"]

COMPANION_SUFFIX = "-backfill"


def companion_names(daemon: Daemon) -> list[str]:
    """Names of the companions the configured sources offer (and are not configured explicitly)."""
    specs = daemon.hooks.component_specs()
    out = []
    for source in daemon.settings.sources:
        if source.endswith(COMPANION_SUFFIX):
            continue
        name = source + COMPANION_SUFFIX
        if ("source", name) in specs and name not in daemon.settings.sources and name not in daemon.components:
            out.append(name)
    return out


def build_companions(daemon: Daemon) -> Component | None:
    """Add the gap repair companion of every configured source offering one to ``daemon``."""
    for name in companion_names(daemon):
        spec = daemon.hooks.spec("source", name)
        config: Any = validate_section(spec.config_model, {}, prefix=f"sources.{name}") if spec.config_model else {}
        component = spec.factory(daemon.context(name, config))
        if component.kind != "source":
            raise ConfigError(f"sources.{name}: plugin built a {component.kind}, expected a source")
        daemon.add(component, daemon.settings.restart_policy(name, spec.restart))
    return None


def backfill_services() -> list[ServiceFactory]:
    """Service factories for ``default_services()``: gap repair beside each source offering it."""
    return [ServiceFactory(build=build_companions)]
