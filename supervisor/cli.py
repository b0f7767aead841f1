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
COMMANDS: tuple[str, ...] = (
    "run", "check_config", "plugins", "plugin", "ctl", "tui", "backfill", "export", "simulate",
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="candlewick",
        description="Collect Hyperliquid OHLCV candles into TimescaleDB/PostgreSQL or SQLite.",
        epilog="Run 'candlewick COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"candlewick {__version__}")
    add_common_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"candlewick.commands.{name}").register(sub)
    for command in {id(p): p for p in sub.choices.values()}.values():
        add_common_options(command.add_argument_group("common options (also accepted before COMMAND)"), after=True)
    return parser


def add_common_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, after: bool = False) -> None:
    """``--config``, ``--log-level`` and ``--log-format``, before or ``after`` the subcommand.

    The copies after the subcommand default to ``SUPPRESS``: left out, they keep what was given
    before it; given, they win.
    """

    def default(value: str | None) -> str | None:
        return argparse.SUPPRESS if after else value

    parser.add_argument(
        "-c", "--config", metavar="PATH", default=default(None), help="config file (default: search order in README)"
    )
    parser.add_argument(
        "--log-level",
        default=default(os.environ.get("CANDLEWICK_LOG_LEVEL")),
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"],
        help="log level (env CANDLEWICK_LOG_LEVEL; default from config, INFO)",
    )
    parser.add_argument(
        "--log-format", choices=["text", "json"], default=default(None), help="log format (json for containers)"
    )


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line; exits 2 with argparse's message on bad usage."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse ends a ``nargs="*"`` positional at the first option, so ``ctl stats --json
        # limit=5`` leaves ``limit=5`` over; a subcommand that names its list takes the rest.
        rest = getattr(args, "rest_into", None)
        if rest is None or any(item.startswith("-") for item in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        getattr(args, rest).extend(extra)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
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
