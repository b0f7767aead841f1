"""``candlewick tui``: open the dashboard, attached to the running daemon over its control socket.

Textual is imported only when the command runs, so ``candlewick --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from candlewick.commands._common import EXIT_OK, EXIT_USAGE, report

DEFAULT_REFRESH_RATE = 2.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tui",
        help="open the terminal dashboard (attaches to the running daemon; waits for it if it is not up)",
    )
    p.add_argument(
        "--socket",
        metavar="PATH",
        help="control socket of the daemon (default: [control] socket from the config, else the per-user default)",
    )
    p.add_argument(
        "--refresh-rate",
        type=_positive,
        default=DEFAULT_REFRESH_RATE,
        metavar="HZ",
        help=f"repaints per second at most, gentle on slow SSH links (default {DEFAULT_REFRESH_RATE:g})",
    )
    p.set_defaults(handler=main)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 30:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 30")
    return value


def socket_path(args: argparse.Namespace) -> Path:
    """``--socket``, else the config's ``[control] socket``, else the default path."""
    if args.socket:
        return Path(args.socket).expanduser()
    from candlewick.config import load_settings

    settings = load_settings(Path(args.config) if getattr(args, "config", None) else None)
    return settings.control.socket_path()


def main(args: argparse.Namespace) -> int:
    from candlewick.errors import CandlewickError

    try:
        path = socket_path(args)
    except CandlewickError as err:
        report(err)
        return EXIT_USAGE
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(
            "candlewick: the dashboard needs a terminal (in a container: docker exec -it candlewick candlewick tui;"
            " for scripts use 'candlewick ctl')",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from candlewick.tui.app import CandlewickApp

    app = CandlewickApp(path, refresh_rate=args.refresh_rate)
    app.run()
    return app.return_code or EXIT_OK  # Textual sets 1 when the app died of an error
