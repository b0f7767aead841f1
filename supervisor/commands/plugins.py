"""``candlewick plugins``: list installed plugins (name, kind, version, origin)."""

from __future__ import annotations

import argparse
from typing import Any

from candlewick.commands._common import EXIT_FAILURE, EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("plugins", help="list installed plugins and what they provide")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import json
    import logging

    from candlewick.logsetup import setup_logging
    from candlewick.pluginmanager import build_plugin_manager, format_plugin_table

    setup_logging((args.log_level or "WARNING").upper(), args.log_format or "text")
    logging.getLogger("candlewick.pluginmanager").setLevel(logging.CRITICAL)  # errors are in the table
    hooks = build_plugin_manager()
    infos = list(hooks.infos.values())
    if args.json:
        print(json.dumps([
            {
                "name": i.name, "entry_point": i.entry_point, "version": i.version, "origin": i.origin,
                "kinds": sorted({c.kind for c in i.components}),
                "components": [
                    {"name": c.name, "kind": c.kind, "backends": sorted(c.backends), "description": c.description}
                    for c in i.components
                ],
                "error": i.error, "disabled": i.blocked,
            }
            for i in sorted(infos, key=lambda i: i.name)
        ], indent=2))  # fmt: skip
    else:
        print(format_plugin_table(infos))
    return EXIT_FAILURE if hooks.errors else EXIT_OK
