"""Errors candlewick raises on purpose.

Every error a user can act on derives from :class:`CandlewickError` and carries a short
``title`` plus a message that says what to do. The whole family, with the module that defines
each one kept outside this file (a test keeps this tree and the classes in step)::

    CandlewickError
    ├── ConfigError                a config key has a bad value (names key, value, what is allowed)
    │   └── NotWritable            [candlewick.runtime.writable] the daemon cannot write a path it needs (uid, fix)
    ├── PluginError
    │   ├── PluginLoadError        a plugin failed to import or register (names plugin and entry point)
    │   ├── UnknownComponent       a config names a component no plugin provides (lists the installed ones)
    │   └── BackendNotSupported    a component cannot run on the chosen async backend
    ├── SinkUnavailable            the sink cannot take writes right now (retry later; data is kept)
    ├── SchemaTooNew               the database was migrated by a newer candlewick
    ├── SourceError                a market source failed in a way the user must fix (unknown coin...)
    ├── StateTooNew                [candlewick.gaps.store] gap repair's state file is from a newer candlewick
    ├── RestError                  [candlewick.plugins.hyperliquid.info_client] the REST endpoint failed a request
    │   ├── BadRequest             [candlewick.plugins.hyperliquid.info_client] the exchange refused the request (4xx)
    │   └── RestUnavailable        [candlewick.plugins.hyperliquid.info_client] no usable answer after every retry
    ├── SpoolFull                  [candlewick.plugins.memory_buffer.spool] the spool reached its size limit
    ├── SpoolLocked                [candlewick.plugins.memory_buffer.spool_dir] another process uses the spool
    └── ControlError               the control socket refused or failed a request
        ├── DaemonUnreachable      no daemon answers on the control socket
        ├── AddressInUse           [candlewick.control.socketfile] another live daemon serves the socket
        ├── RpcError               [candlewick.control.protocol] an error answer to a request
        ├── IncompatibleProtocol   [candlewick.control.protocol] the daemon speaks another protocol major
        ├── ProtocolViolation      [candlewick.control.protocol] the peer sent something not in the protocol
        └── NotAttached            [candlewick.tui.link] a TUI command while no daemon is attached
"""

from __future__ import annotations


class CandlewickError(Exception):
    """Base of every error candlewick raises for users to act on."""

    title = "candlewick error"
    #: False when retrying cannot help (bad config, a schema from the future): a component
    #: that raises it fails at once instead of being restarted.
    retryable = True

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(CandlewickError):
    """A configuration value is invalid; the message names the key, value and what is allowed."""

    title = "invalid configuration"
    retryable = False


class PluginError(CandlewickError):
    """Something is wrong with a plugin."""

    title = "plugin error"


class PluginLoadError(PluginError):
    """A plugin failed to import or register."""

    title = "plugin failed to load"

    def __init__(self, plugin: str, entry_point: str, cause: BaseException) -> None:
        super().__init__(
            f"plugin {plugin!r} (entry point {entry_point!r}) failed to load: {type(cause).__name__}: {cause}",
            hint=f"fix or uninstall the distribution providing it, or set CANDLEWICK_DISABLE_PLUGINS={plugin}",
        )
        self.plugin = plugin
        self.entry_point = entry_point
        self.cause = cause


class UnknownComponent(PluginError):
    """The config names a component that no loaded plugin provides."""

    title = "unknown component"


class BackendNotSupported(PluginError):
    """A component does not support the selected async backend."""

    title = "backend not supported"


class SinkUnavailable(CandlewickError):
    """The sink cannot accept writes right now; the caller keeps the data and retries."""

    title = "sink unavailable"


class SchemaTooNew(CandlewickError):
    """The database schema is newer than this version of candlewick understands."""

    title = "database schema is newer than this candlewick"
    retryable = False


class SourceError(CandlewickError):
    """A source cannot proceed until the user changes something (e.g. an unknown coin)."""

    title = "source error"


class ControlError(CandlewickError):
    """The control socket answered with an error or could not be used."""

    title = "control error"


class DaemonUnreachable(ControlError):
    """No daemon answers on the control socket."""

    title = "daemon unreachable"
