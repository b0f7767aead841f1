"""Shared bits of the subcommands: loading config and turning known errors into one line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from candlewick.config import Settings
    from candlewick.errors import CandlewickError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130


def report(err: CandlewickError) -> None:
    """Print a known error as one line (plus its hint), no traceback."""
    print(f"candlewick: {err.title}: {err}", file=sys.stderr)


def load(args: argparse.Namespace) -> Settings:
    """Load settings as the CLI options say, and set up logging from them."""
    from candlewick.config import load_settings
    from candlewick.logsetup import setup_logging

    settings = load_settings(Path(args.config) if args.config else None)
    level = (args.log_level or settings.logging.level).upper()
    setup_logging(level, args.log_format or settings.logging.format)
    logging.getLogger("candlewick").debug("config from %s", settings.source_path or "defaults")
    return settings
