"""Which components the daemon builds, with which options: settings and plugin specs in, a plan out.

The one place a config becomes components (no I/O; :meth:`candlewick.runtime.daemon.Daemon.build`
turns the plan into components). The order: the sink, the buffer, every ``[sources.<name>]``,
then the companions those sources' specs declare (:attr:`ComponentSpec.companions`, e.g. gap
repair beside ``hyperliquid``) that the config does not name itself. A companion the config
names is built once, as the configured source it is, with its own options.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from candlewick.config import validate_section
from candlewick.errors import ConfigError, UnknownComponent
from candlewick.plugin import ComponentSpec, Kind

if TYPE_CHECKING:
    from candlewick.config import Settings
    from candlewick.pluginmanager import PluginHooks

__all__ = ["OnlySources", "Planned", "plan_components"]

#: Sources to build instead of ``[sources]`` and its companions: name -> options laid over that
#: source's own table (``{}``: its table as configured, or its defaults).
OnlySources = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Planned:
    """One component to build: its spec, its validated options and the config key they come from."""

    spec: ComponentSpec
    config: Any
    key: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> Kind:
        return self.spec.kind


def plan_components(settings: Settings, hooks: PluginHooks, *, only: OnlySources | None = None) -> list[Planned]:
    """The components ``settings`` asks for, options validated; raises ConfigError early.

    ``only`` builds the sink, the buffer and just those sources (options laid over their own
    tables, no companions): a one-shot run such as ``candlewick backfill --standalone``.
    """
    sink, buffer = settings.sink, settings.buffer
    wanted: list[tuple[Kind, str, Mapping[str, Any], str]] = [
        ("sink", sink.use, sink.plugin_options(sink.use), f"sink.{sink.use}"),
        ("buffer", buffer.use, buffer.plugin_options(buffer.use), f"buffer.{buffer.use}"),
    ]
    if only is None:
        sources = {name: _table(name, raw) for name, raw in settings.sources.items()}
    else:
        sources = {name: {**_table(name, settings.sources.get(name, {})), **over} for name, over in only.items()}
    wanted += [("source", name, raw, f"sources.{name}") for name, raw in sources.items()]
    planned = [_validated(hooks.spec(kind, name), raw, key) for kind, name, raw, key in wanted]
    if only is None:
        planned += _companions(hooks, [p for p in planned if p.kind == "source"], configured=sources.keys())
    return planned


def _companions(hooks: PluginHooks, sources: list[Planned], *, configured: Collection[str]) -> list[Planned]:
    """The companions ``sources`` declare that are not configured themselves, each once, with defaults."""
    out: dict[str, Planned] = {}
    for source in sources:
        for name in source.spec.companions:
            if name in configured or name in out:
                continue
            try:
                spec = hooks.spec("source", name)
            except UnknownComponent:
                raise ConfigError(
                    f"{source.key}: the {source.name!r} plugin declares the companion {name!r}, "
                    f"but no source plugin named {name!r} is installed",
                    hint=f"install the distribution providing {name!r}, or reinstall the one providing {source.name!r}",
                ) from None
            out[name] = _validated(spec, {}, f"sources.{name}")
    return list(out.values())


def _table(name: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"sources.{name}: expected a table of options, got {raw!r}")
    return raw


def _validated(spec: ComponentSpec, raw: Mapping[str, Any], key: str) -> Planned:
    if spec.config_model is not None:
        return Planned(spec, validate_section(spec.config_model, raw, prefix=key), key)
    if raw:
        raise ConfigError(f"{key}: {spec.name} takes no options, got {', '.join(raw)}")
    return Planned(spec, raw, key)
