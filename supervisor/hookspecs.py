"""Hook specifications: how plugins contribute components and control methods.

Hooks do discovery and registration only; what a component does at run time is the
contract of its ABC in :mod:`candlewick.plugin`. Every hook is called with keyword
arguments through :class:`candlewick.pluginmanager.PluginHooks`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from candlewick.host import ControlHost, Handler
    from candlewick.plugin import ComponentSpec

hookspec = pluggy.HookspecMarker("candlewick")

# -------------------------------------------------------------------------------------------
# components
# -------------------------------------------------------------------------------------------


@hookspec
def candlewick_register_sources() -> Sequence[ComponentSpec]:
    """Contribute source components (producers of candles).

    Called once per plugin, when it loads (before the config is validated); the daemon keeps
    the table it builds from the results.

    :return: the :class:`~candlewick.plugin.ComponentSpec` of each source, ``kind="source"``.
        A source runs when the config has a ``[sources.<name>]`` section.

    Calling mode: every implementation is called; the lists are concatenated.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def candlewick_register_buffers() -> Sequence[ComponentSpec]:
    """Contribute buffer components (between sources and the sink).

    Called once per plugin, when it loads.

    :return: specs with ``kind="buffer"``; ``[buffer] use`` picks the one that runs.

    Calling mode: every implementation is called; the lists are concatenated.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


@hookspec
def candlewick_register_sinks() -> Sequence[ComponentSpec]:
    """Contribute sink components (where candles are stored).

    Called once per plugin, when it loads.

    :return: specs with ``kind="sink"``; ``[sink] use`` picks the one that runs, configured
        by ``[sink.<name>]``.

    Calling mode: every implementation is called; the lists are concatenated.

    .. versionadded:: 0.1
    """
    raise NotImplementedError


# -------------------------------------------------------------------------------------------
# control socket
# -------------------------------------------------------------------------------------------


@hookspec
def candlewick_control_methods(host: ControlHost) -> Mapping[str, Handler[Any]] | None:
    """Contribute JSON-RPC methods to the control socket.

    Called each time the control server starts (again after a restart of it), after every
    component was built.

    :param host: the daemon's view for handlers: components, telemetry, settings.
    :return: method name to async handler ``(params: dict) -> JSON-able result``. Names are
        namespaced by the plugin's name: ``status`` from plugin ``ticker`` becomes
        ``ticker.status``.

    Calling mode: every implementation is called.

    .. versionadded:: 0.1
    """
    raise NotImplementedError
