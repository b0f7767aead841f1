"""The ``candlewick`` command line.

Each subcommand lives in ``candlewick.commands.<name>`` with ``register(subparsers)`` and a
``main(args) -> int``; modules import only argparse at import time so ``--help`` stays fast
(no textual, asyncpg or websockets on that path).

Exit codes: 0 ok, 1 failure, 2 bad usage or config, 3 daemon unreachable (``ctl``), 130
interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from candlewick._version import __version__
from candlewick.commands._common import EXIT_INTERRUPTED, EXIT_USAGE

#: Subcommand modules under ``candlewick.commands``, in ``--help`` order.
COMMANDS: tuple[str, ...] = ("run", "check_config", "plugins", "ctl", "tui", "backfill", "simulate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="candlewick",
        description="Collect Hyperliquid OHLCV candles into TimescaleDB/PostgreSQL or SQLite.",
        epilog="Run 'candlewick COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"candlewick {__version__}")
    parser.add_argument("-c", "--config", metavar="PATH", help="config file (default: search order in README)")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("CANDLEWICK_LOG_LEVEL"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"],
        help="log level (env CANDLEWICK_LOG_LEVEL; default from config, INFO)",
    )
    parser.add_argument("--log-format", choices=["text", "json"], default=None, help="log format (json for containers)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"candlewick.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = args.handler
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
