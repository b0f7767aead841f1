"""``candlewick run``: run the collector daemon in the foreground."""

from __future__ import annotations

import argparse
from typing import Any

from candlewick.commands._common import EXIT_FAILURE, EXIT_USAGE, load, report


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the collector daemon (stop with Ctrl-C or SIGTERM)")
    p.add_argument("--backend", choices=["asyncio", "trio"], help="async backend (default: [daemon] backend)")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import logging

    import anyio

    from candlewick.errors import CandlewickError
    from candlewick.pluginmanager import build_plugin_manager
    from candlewick.runtime.daemon import Daemon
    from candlewick.runtime.services import default_services

    try:
        settings = load(args)
        if (args.backend or settings.daemon.backend) == "asyncio":
            _leave_out_trio()
        hooks = build_plugin_manager()
        daemon = Daemon(settings, hooks, backend=args.backend, services=default_services())
        daemon.build()
    except CandlewickError as err:
        report(err)
        return EXIT_USAGE
    try:
        return anyio.run(daemon.run, backend=daemon.backend)
    except CandlewickError as err:
        report(err)
        return EXIT_FAILURE
    except Exception:
        logging.getLogger("candlewick").exception("the daemon crashed")
        return EXIT_FAILURE


def _leave_out_trio() -> None:
    """This process runs asyncio to the end: httpcore, which imports trio merely because it is
    installed (about 4 MB resident), is imported while trio looks absent. A plugin that imports
    trio itself still gets it."""
    import sys

    if "trio" in sys.modules or "httpcore" in sys.modules:
        return
    sys.modules["trio"] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401
    finally:
        del sys.modules["trio"]
