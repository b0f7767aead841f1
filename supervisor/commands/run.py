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
        _leave_out_unused(args.backend or settings.daemon.backend)
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


def _leave_out_unused(backend: str) -> None:
    """Import httpcore while the modules it imports merely because they are installed look absent.

    httpcore imports trio (about 4 MB resident) and h2 (1.5 MB, installed with the web extra's
    server) when it finds them. A daemon runs one backend and its REST client speaks HTTP/1.1,
    so neither is needed on its account; a plugin or the web service that imports one itself
    still gets it.
    """
    import sys

    if "httpcore" in sys.modules:
        return
    unused = ("h2", "trio") if backend == "asyncio" else ("h2",)
    absent = [name for name in unused if name not in sys.modules]
    for name in absent:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import httpcore  # noqa: F401
    finally:
        for name in absent:
            del sys.modules[name]
