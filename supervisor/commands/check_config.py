"""``candlewick check-config``: validate and print the effective config, secrets masked."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from candlewick.commands._common import EXIT_OK, EXIT_USAGE, load, report

if TYPE_CHECKING:
    from candlewick.config import Settings
    from candlewick.pluginmanager import PluginHooks


def register(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate the config and print the effective values")
    p.add_argument("--json", action="store_true", help="print JSON instead of TOML-like text")
    p.add_argument(
        "--offline",
        action="store_true",
        help='do not ask the exchange what market sets (coins = ["*", ...]) resolve to now',
    )
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import json
    import sys

    from candlewick.config import mask_secrets
    from candlewick.errors import CandlewickError
    from candlewick.pluginmanager import build_plugin_manager

    try:
        settings = load(args)
        hooks = build_plugin_manager()
        effective = effective_config(settings, hooks)
        warnings = config_warnings(settings, hooks)
    except CandlewickError as err:
        report(err)
        return EXIT_USAGE
    if not args.offline:
        effective["resolved"] = resolved_sets(settings, warnings)
    for warning in warnings:
        print(f"candlewick: warning: {warning}", file=sys.stderr)
    dump = mask_secrets(effective)
    if args.json:
        print(json.dumps(dump, indent=2, default=str))
    else:
        print(f"# config file: {settings.source_path or '(none: built-in defaults)'}")
        print(_as_toml(dump))
    return EXIT_OK


def resolved_sets(settings: Settings, warnings: list[str]) -> dict[str, Any]:
    """What each Hyperliquid source's market sets resolve to now (its ``rest_url`` is asked)."""
    import anyio

    from candlewick.errors import CandlewickError
    from candlewick.plugins.hyperliquid.config import HyperliquidConfig
    from candlewick.plugins.hyperliquid.universe_watch import preview
    from candlewick.runtime.clock import SystemClock

    out: dict[str, Any] = {}
    for name, raw in settings.sources.items():
        if name != "hyperliquid" or not isinstance(raw, dict):
            continue
        config = HyperliquidConfig.model_validate(raw)
        if not config.has_sets():
            continue
        try:
            out[name] = anyio.run(preview, config, SystemClock())
        except (CandlewickError, OSError) as exc:
            warnings.append(f"cannot resolve the market sets of [sources.{name}] now: {exc}")
    return out


def config_warnings(settings: Settings, hooks: PluginHooks) -> list[str]:
    """What the daemon would warn about at start (components built, nothing run)."""
    from candlewick.runtime.daemon import Daemon

    daemon = Daemon(settings, hooks)
    try:
        daemon.build(dry_run=True)
        return daemon.config_warnings()
    finally:
        daemon.close()


def effective_config(settings: Settings, hooks: PluginHooks) -> dict[str, Any]:
    """Core sections plus every enabled plugin section validated by its own model."""
    from candlewick.config import validate_section

    data: dict[str, Any] = settings.model_dump(mode="json")
    for name, raw in settings.sources.items():
        spec = hooks.spec("source", name)
        if spec.config_model is not None:
            model = validate_section(spec.config_model, raw, prefix=f"sources.{name}")
            data["sources"][name] = model.model_dump(mode="json")
    for section in ("sink", "buffer"):
        use = getattr(settings, section).use
        spec = hooks.spec(section, use)
        raw = getattr(settings, section).plugin_options(use)
        if spec.config_model is not None:
            model = validate_section(spec.config_model, raw, prefix=f"{section}.{use}")
            data[section][use] = model.model_dump(mode="json")
    data["control"]["socket"] = str(settings.control.socket_path())
    data["daemon"]["data_dir"] = str(settings.daemon.data_path())
    return data


def _fmt(value: Any) -> str:
    import json

    if value is None:
        return '""  # unset'
    return json.dumps(value, default=str)


def _as_toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict)]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    out = []
    if prefix and (scalars or not tables):
        out.append(f"\n[{prefix}]")
    out += [f"{k} = {_fmt(v)}" for k, v in scalars]
    for k, v in tables:
        out.append(_as_toml(v, f"{prefix}.{k}" if prefix else k))
    return "\n".join(x for x in out if x)
