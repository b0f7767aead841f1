"""A real candlewick daemon with the test feed.

Usage: ``python -m tests.plugins.storage.daemon_child '<settings as JSON>'``.
"""

from __future__ import annotations

import json
import logging
import sys

import anyio

from candlewick.config import Settings
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon

from . import feed_plugin


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    settings = Settings(**json.loads(argv[0]))
    daemon = Daemon(settings, build_plugin_manager(extra=[("feed", feed_plugin)]))
    daemon.build()
    return int(anyio.run(daemon.run, backend=daemon.backend))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
