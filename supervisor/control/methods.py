"""What control-method handlers and service builders see of the daemon.

:class:`ControlHost` and the :data:`Handler` type are defined in :mod:`candlewick.host` (below
the plugin manager, which needs them too) and re-exported here, where plugin authors import
them; :class:`ServiceHost` is what the control server's and the metrics endpoint's builders get.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from candlewick.host import ControlHost, Handler

if TYPE_CHECKING:
    from candlewick.model import Candle
    from candlewick.plugin import ComponentContext, Kind
    from candlewick.pluginmanager import PluginHooks
    from candlewick.runtime.telemetry import Fanout

__all__ = ["ControlHost", "Handler", "ServiceHost"]


class ServiceHost(ControlHost, Protocol):
    """The daemon as a service's builder sees it: the host, plus contexts and the plugin hooks."""

    @property
    def hooks(self) -> PluginHooks: ...
    @property
    def live(self) -> Fanout[Candle]:
        """Every candle the sources send, as they send it (see :class:`~candlewick.plugin.CandleOutlet`)."""
        ...

    def context(self, name: str, config: Any, *, kind: Kind | None = None) -> ComponentContext[Any]: ...
