"""``candlewick plugin``: tools for plugin authors. ``plugin new NAME --kind source|sink`` writes a package.

The package installs with pip (``pip install -e '.[test]'``), registers its entry point, and
its tests run candlewick's compliance suite (``pytest``). ``candlewick plugins`` (plural) lists
what is installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from candlewick.commands._common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE


def register(sub: Any) -> None:
    p = sub.add_parser("plugin", help="tools for plugin authors: 'plugin new' writes a plugin package")
    actions = p.add_subparsers(dest="plugin_action", metavar="ACTION")
    new = actions.add_parser(
        "new",
        help="write a pip-installable source or sink plugin package with compliance tests",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("name", help="plugin name: lowercase letters, digits, dashes (e.g. 'kraken')")
    new.add_argument("--kind", choices=["source", "sink"], required=True, help="what the plugin provides")
    new.add_argument("--dir", metavar="PATH", help="where to write it (default: ./candlewick-NAME)")
    new.set_defaults(handler=new_main)
    p.set_defaults(handler=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def new_main(args: argparse.Namespace) -> int:
    from candlewick.commands._scaffold import Blueprint, write

    try:
        blueprint = Blueprint(args.name, args.kind)
    except ValueError as exc:
        print(f"candlewick: {exc}", file=sys.stderr)
        return EXIT_USAGE
    target = Path(args.dir) if args.dir else Path.cwd() / blueprint.distribution
    try:
        files = write(blueprint, target)
    except OSError as exc:
        print(f"candlewick: cannot write the plugin: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"wrote {blueprint.distribution} ({blueprint.kind} {blueprint.name!r}) in {target}: {len(files)} files")
    print(f"next: cd {target} && pip install -e '.[test]' && pytest")
    return EXIT_OK
