"""Builds the plugin manager: loads entry points, collects component specs, lists plugins.

Built-in plugins load through the same ``candlewick`` entry-point group as third parties.
A plugin that fails to load is reported once, by name and entry point, and the rest load.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import pluggy

from candlewick import hookspecs
from candlewick.errors import PluginLoadError, UnknownComponent
from candlewick.plugin import PROJECT, ComponentSpec, Kind

if TYPE_CHECKING:
    from candlewick.host import ControlHost, Handler

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "candlewick"
DISABLE_ENV = "CANDLEWICK_DISABLE_PLUGINS"
TRACE_ENV = "CANDLEWICK_TRACE_HOOKS"
BUILTIN_DIST = "candlewick"


@dataclass(frozen=True)
class PluginInfo:
    """One installed plugin as ``candlewick plugins`` shows it."""

    name: str
    entry_point: str
    version: str
    origin: str
    components: tuple[ComponentSpec, ...] = ()
    error: str | None = None
    blocked: bool = False

    @property
    def kinds(self) -> str:
        return ", ".join(sorted({c.kind for c in self.components})) or "-"


@dataclass
class PluginHooks:
    """Typed wrappers around the hook calls, so mypy sees every call site.

    The component table is collected once, when the plugins load (:func:`build_plugin_manager`):
    the set of plugins is fixed from then on, so lookups never call the registration hooks again.
    """

    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    errors: list[PluginLoadError] = field(default_factory=list)
    #: Every registered component, keyed by (kind, name): the first plugin loaded keeps a name.
    table: dict[tuple[Kind, str], ComponentSpec] = field(default_factory=dict)
    #: The plugin that registered each entry of :attr:`table`.
    owners: dict[tuple[Kind, str], str] = field(default_factory=dict)

    def add_components(self, plugin: str, specs: Sequence[ComponentSpec]) -> None:
        """Enter one loaded plugin's components; a name taken by an earlier plugin is refused once."""
        for spec in specs:
            key = (spec.kind, spec.name)
            owner = self.owners.get(key)
            if owner is not None:
                log.warning(
                    "plugin %r registers a %s named %r (ComponentSpec name), which plugin %r registered first; "
                    "%r's is ignored: rename it, or set CANDLEWICK_DISABLE_PLUGINS to the one you do not want",
                    plugin, spec.kind, spec.name, owner, plugin,
                )  # fmt: skip
                continue
            self.table[key] = spec
            self.owners[key] = plugin

    def module_owners(self) -> dict[str, str]:
        """Module prefix -> plugin name: the package each loaded plugin's module lives in.

        ``candlewick_ticker.plugin`` owns ``candlewick_ticker``; an object registered in-process
        owns the module that defines its class. Used to name the plugin whose code is running.
        """
        owners: dict[str, str] = {}
        for name, plugin in self.pm.list_name_plugin():
            if isinstance(plugin, ModuleType):
                owners[plugin.__package__ or plugin.__name__] = name
            elif plugin is not None:
                owners[type(plugin).__module__] = name
        return owners

    def component_specs(self) -> dict[tuple[Kind, str], ComponentSpec]:
        """Every registered component, keyed by (kind, name)."""
        return dict(self.table)

    def spec(self, kind: Kind, name: str) -> ComponentSpec:
        """The spec of one component, or a clear error listing what is installed."""
        try:
            return self.table[(kind, name)]
        except KeyError:
            have = sorted(n for (k, n) in self.table if k == kind) or ["none"]
            raise UnknownComponent(
                f"no {kind} plugin named {name!r} is installed (installed {kind}s: {', '.join(have)})",
                hint="install the plugin's distribution or fix the name in the config",
            ) from None

    def control_methods(self, host: ControlHost) -> dict[str, Handler[Any]]:
        """Methods contributed by plugins, namespaced ``<plugin>.<method>``.

        Each plugin's implementation is called through pluggy (one plugin at a time, so every
        method is attributed to its plugin), which keeps hook tracing and monitoring in the loop.
        A plugin whose hook raises or returns something else than a mapping of names to async
        handlers is reported once, naming it and the hook, and contributes nothing.
        """
        methods: dict[str, Handler[Any]] = {}
        impls = self.pm.hook.candlewick_control_methods.get_hookimpls()
        everyone = [impl.plugin for impl in impls]
        for impl in impls:
            others = [p for p in everyone if p is not impl.plugin]
            call = self.pm.subset_hook_caller("candlewick_control_methods", remove_plugins=others)
            try:
                results = call(host=host)
                contributed = {m: h for result in results for m, h in _checked_methods(result).items()}
            except Exception as exc:
                log.error(
                    "plugin %r: candlewick_control_methods(host) %s; its control methods are left out",
                    impl.plugin_name, _what_went_wrong(exc),
                )  # fmt: skip
                continue
            for method, handler in contributed.items():
                methods[f"{impl.plugin_name}.{method}"] = handler
        return methods


class HookError(Exception):
    """A plugin's hook raised or returned something else than its spec says (the message says which)."""


def _what_went_wrong(exc: Exception) -> str:
    return str(exc) if isinstance(exc, HookError) else f"raised {type(exc).__name__}: {exc}"


def _checked_methods(result: object) -> Mapping[str, Handler[Any]]:
    """One plugin's control methods, or HookError saying what is wrong with them."""
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise HookError(f"returned {type(result).__name__}, expected a mapping of method name to async handler")
    for method, handler in result.items():
        if not isinstance(method, str) or not callable(handler):
            raise HookError(
                f"returned {method!r}: {type(handler).__name__}, expected a method name mapped to an async handler"
            )
    return cast("Mapping[str, Handler[Any]]", result)


def _origin(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = ep.dist
    if dist is None:
        return ("unknown", "?")
    name = dist.metadata["Name"] or "?"
    origin = "built-in" if name == BUILTIN_DIST else name
    return (origin, dist.version)


def disabled_plugins(environ: Mapping[str, str] | None = None) -> set[str]:
    """Plugin names blocked by ``CANDLEWICK_DISABLE_PLUGINS`` (comma or space separated)."""
    raw = (environ if environ is not None else os.environ).get(DISABLE_ENV, "")
    return {p for p in raw.replace(",", " ").split() if p}


def _entry_points() -> list[metadata.EntryPoint]:
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        seen.setdefault(ep.name, ep)  # the first distribution on sys.path wins, like imports
    return sorted(seen.values(), key=lambda e: e.name)


def build_plugin_manager(
    *,
    extra: Iterable[tuple[str, ModuleType | object]] = (),
    load_entry_points: bool = True,
    environ: Mapping[str, str] | None = None,
) -> PluginHooks:
    """Create the plugin manager and load every plugin that is not blocked.

    ``extra`` registers in-process plugins (name, module or object) beside the entry points.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    env = environ if environ is not None else os.environ
    if env.get(TRACE_ENV):
        trace_log = logging.getLogger("candlewick.hooks")
        pm.add_hookcall_monitoring(
            lambda name, impls, kw: trace_log.info("hook %s -> %s", name, [i.plugin_name for i in impls]),
            lambda outcome, name, impls, kw: trace_log.info("hook %s done", name),
        )
    hooks = PluginHooks(pm)
    blocked = disabled_plugins(env)
    for name in blocked:
        pm.set_blocked(name)
    candidates: list[tuple[str, str, str, str, Any]] = []
    if load_entry_points:
        for ep in _entry_points():
            origin, version = _origin(ep)
            candidates.append((ep.name, ep.value, origin, version, ep))
    for name, obj in extra:
        candidates.append((name, f"<in-process {name}>", "in-process", "-", obj))
    for name, where, origin, version, target in candidates:
        if name in blocked:
            hooks.infos[name] = PluginInfo(name, where, version, origin, blocked=True)
            log.info("plugin %r is disabled by %s", name, DISABLE_ENV)
            continue
        try:
            module = target.load() if isinstance(target, metadata.EntryPoint) else target
            if not isinstance(module, Hashable):
                raise TypeError(f"a plugin must be a module or a hashable object, got {type(module).__name__}")
            pm.register(module, name=name)
            components = _components_of(pm, name)
        except Exception as exc:
            if pm.has_plugin(name):
                pm.unregister(name=name)
            err = PluginLoadError(name, where, exc)
            hooks.errors.append(err)
            hooks.infos[name] = PluginInfo(name, where, version, origin, error=str(err))
            log.error("%s", err)
            continue
        hooks.infos[name] = PluginInfo(name, where, version, origin, components=components)
        hooks.add_components(name, components)
    pm.check_pending()
    return hooks


def _components_of(pm: pluggy.PluginManager, name: str) -> tuple[ComponentSpec, ...]:
    """Call one plugin's registration hooks through pluggy and check what they return."""
    plugin = pm.get_plugin(name)
    others = [p for _, p in pm.list_name_plugin() if p is not plugin]
    specs: list[ComponentSpec] = []
    for hook_name, kind in (
        ("candlewick_register_sources", "source"),
        ("candlewick_register_buffers", "buffer"),
        ("candlewick_register_sinks", "sink"),
    ):
        try:
            results = pm.subset_hook_caller(hook_name, remove_plugins=others)()
        except Exception as exc:
            raise HookError(f"{hook_name}() raised {type(exc).__name__}: {exc}") from exc
        for result in results:
            specs.extend(_checked_specs(hook_name, kind, result))
    return tuple(specs)


def _checked_specs(hook_name: str, kind: str, result: object) -> list[ComponentSpec]:
    """What one registration hook returned, or HookError naming the hook and what it expects."""
    expected = f"expected a list of ComponentSpec(kind={kind!r})"
    if result is None:
        return []
    if isinstance(result, ComponentSpec | str | bytes | Mapping) or not isinstance(result, Iterable):
        raise HookError(f"{hook_name}() returned {type(result).__name__}, {expected}")
    specs = list(result)
    for spec in specs:
        if not isinstance(spec, ComponentSpec):
            raise HookError(
                f"{hook_name}() returned {type(spec).__name__} {spec!r:.60} in its list, expected ComponentSpec"
            )
        if spec.kind != kind:
            raise HookError(f"{hook_name}() returned {spec.name!r} with kind={spec.kind!r}, {expected}")
    return specs


def format_plugin_table(infos: Sequence[PluginInfo]) -> str:
    """The ``candlewick plugins`` table."""
    rows = [("NAME", "KIND", "VERSION", "ORIGIN", "BACKENDS", "STATUS")]
    for info in sorted(infos, key=lambda i: i.name):
        backends = sorted(set().union(*(c.backends for c in info.components))) if info.components else []
        status = "disabled" if info.blocked else ("error" if info.error else "ok")
        rows.append((info.name, info.kinds, info.version, info.origin, ",".join(backends) or "-", status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    errors = [f"{i.name}: {i.error}" for i in infos if i.error]
    return "\n".join([*lines, *(["", *errors] if errors else [])])
