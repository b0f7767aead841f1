"""``candlewick export``: one market's stored candles as CSV, NDJSON or freqtrade files, streaming.

Reads the configured sink directly (no daemon needed; the daemon may be running), page by
page. CSV and NDJSON go to ``-o PATH`` or stdout; ``freqtrade`` writes into a freqtrade data
directory (``-o``, default ``user_data/data/hyperliquid``) under the name its data handlers
look for. A file is written beside its final name and renamed into place when complete.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from candlewick.commands._common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, load, report

if TYPE_CHECKING:
    from candlewick.exporting.run import Request
    from candlewick.reading import CandleReader

DEFAULT_FREQTRADE_DIR = Path("user_data/data/hyperliquid")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "export",
        help="write a market's stored candles as csv, ndjson or freqtrade files",
        description="Write the stored candles of one market over [start, end) as CSV, NDJSON or freqtrade "
        "data files, streaming (exact decimals; times in ms or ISO-8601, UTC by default).",
    )
    p.add_argument("--coin", required=True, help="coin as stored, e.g. BTC")
    p.add_argument("--interval", required=True, help="interval, e.g. 1m, 1h, 1d, 1w, 1M")
    p.add_argument("--start", help="first open time (ms or ISO-8601; default: the oldest stored)")
    p.add_argument("--end", help="open times before this (ms or ISO-8601; default: everything stored)")
    p.add_argument("--format", choices=["csv", "ndjson", "freqtrade"], default="csv", help="output format (csv)")
    p.add_argument(
        "-o", "--output", metavar="PATH",
        help="file to write (csv/ndjson; default stdout), or freqtrade's data directory "
        f"(freqtrade; default {DEFAULT_FREQTRADE_DIR})",
    )  # fmt: skip
    p.add_argument("--closed-only", action="store_true", help="leave out the open candle (freqtrade always does)")
    p.add_argument("--sink", help="read this configured sink instead of [sink] use")
    p.add_argument("--pair", help="freqtrade pair name (default COIN/USDC:USDC, a Hyperliquid perpetual)")
    p.add_argument(
        "--freqtrade-format", choices=["json", "feather"], default="json",
        help="freqtrade file format (json; feather needs pip install 'candlewick[feather]')",
    )  # fmt: skip
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import sys

    from candlewick.errors import CandlewickError
    from candlewick.readers import open_reader

    try:
        req = _request(args)
        settings = load(args)
        reader = open_reader(settings, sink=args.sink)
        if args.format == "freqtrade" and args.freqtrade_format == "feather":
            from candlewick.exporting.freqtrade import check_feather

            check_feather()
    except (ValueError, ImportError) as exc:
        print(f"candlewick: export: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CandlewickError as err:
        report(err)
        return EXIT_USAGE
    try:
        return _export(args, req, reader)
    except CandlewickError as err:
        report(err)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"candlewick: export: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _request(args: argparse.Namespace) -> Request:
    from candlewick.exporting.run import Request
    from candlewick.exporting.times import parse_time
    from candlewick.model import check_interval
    from candlewick.readers import FOREVER

    check_interval(args.interval)
    start = parse_time(args.start) if args.start else 0
    end = parse_time(args.end) if args.end else FOREVER
    if end <= start:
        raise ValueError(f"--end ({end}) must be after --start ({start})")
    return Request(args.coin, args.interval, start, end, closed_only=args.closed_only)


def _export(args: argparse.Namespace, req: Request, reader: CandleReader) -> int:
    import sys

    if args.format == "freqtrade":
        from candlewick.exporting.freqtrade import default_pair, pair_file

        datadir = Path(args.output) if args.output else DEFAULT_FREQTRADE_DIR
        target: Path | None = pair_file(
            datadir, args.pair or default_pair(req.coin), req.interval, args.freqtrade_format
        )
    else:
        target = Path(args.output) if args.output and args.output != "-" else None
    if target is None:
        try:
            rows = _run(args, req, reader, sys.stdout.buffer)
        except BrokenPipeError:  # a reader such as `head` stopped early: not a failure
            _silence_stdout()
            return EXIT_OK
        sys.stdout.flush()
    elif target.exists() and not target.is_file():  # /dev/null, a FIFO: write into it, never rename over it
        with target.open("w" if _text_output(args) else "wb") as out:
            rows = _run(args, req, reader, out)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            with partial.open("w" if _text_output(args) else "wb") as out:
                rows = _run(args, req, reader, out)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    where = target if target is not None else "stdout"
    what = "closed candles" if args.format == "freqtrade" or req.closed_only else "candles"
    print(f"candlewick: export: {rows:,} {what} of {req.coin} {req.interval} to {where}", file=sys.stderr)
    return EXIT_OK


def _text_output(args: argparse.Namespace) -> bool:
    return bool(args.format == "freqtrade" and args.freqtrade_format == "json")


def _run(args: argparse.Namespace, req: Request, reader: CandleReader, out: Any) -> int:
    import sys

    import anyio

    from candlewick.exporting.progress import Progress
    from candlewick.exporting.run import expected_rows, export_bytes, export_freqtrade

    async def go() -> int:
        async with reader:
            progress = Progress(f"{req.coin} {req.interval}", 0)
            if out is sys.stdout.buffer and sys.stdout.isatty():
                progress.enabled = False  # the rows themselves go to the terminal
            if progress.enabled:
                progress.total = await expected_rows(reader, req)
            if args.format == "freqtrade":
                rows = await export_freqtrade(reader, req, args.freqtrade_format, out, progress)
            else:
                rows = await export_bytes(reader, req, args.format, out, progress)
            progress.finish()
            return rows

    return anyio.run(go, backend="asyncio")  # the TimescaleDB reader (asyncpg) needs asyncio


def _silence_stdout() -> None:
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
