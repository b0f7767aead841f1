"""``candlewick simulate``: run the fake Hyperliquid exchange in the foreground.

It serves the exchange's wire format on loopback (``/ws`` websocket and ``POST /info``) with
deterministic candles in real time, so the whole daemon can run offline as a demo or in tests.
Point ``[sources.hyperliquid] ws_url``/``rest_url`` at the URLs it prints.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from candlewick.commands._common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    import ssl

    from candlewick.testing import FakeExchange

DEFAULT_PORT = 9870
#: Faults that can be switched on from the command line.
FAULTS = {
    "duplicates": "send every candle push twice",
    "out-of-order": "resend the previous version of a candle after each push",
    "garbage": "send a garbage frame now and then (about 1 push round in 20)",
    "sparse": "let 1m candles of every coin sometimes have no trades",
    "pages-500": "cap candleSnapshot responses at 500 items instead of 5000",
    "rate-limit": "enforce 1200 REST weight per minute with 429 (body null)",
    "drops": "cut every websocket each --fault-every seconds",
    "stalls": "make every websocket go silent each --fault-every seconds",
}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="run a fake Hyperliquid exchange on loopback (offline demo and tests)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="faults:\n" + "\n".join(f"  {name:<13} {text}" for name, text in FAULTS.items()),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--seed", type=int, default=0, help="seed of the deterministic candles (default 0)")
    p.add_argument("--coins", nargs="+", metavar="COIN", help="coins to list (default: BTC ETH SOL ...)")
    p.add_argument(
        "--universe",
        choices=("small", "full"),
        default="small",
        help="small: the default coins; full: 240 perps, 12 spot pairs and the HIP-3 dex xyz, with a coin "
        "listed and one delisted every --listing-every seconds (ignored with --coins)",
    )
    p.add_argument("--listing-every", type=float, default=600.0, metavar="SECONDS", help="listing schedule period")
    p.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS), help="switch a fault on (repeat)")
    p.add_argument("--fault-every", type=float, default=60.0, metavar="SECONDS", help="period of drops/stalls")
    p.add_argument(
        "--differs",
        action="append",
        default=[],
        type=_market_period,
        metavar="COIN/INTERVAL[:N]",
        help="native candles of this market (every N-th, default every one) differ from the fold of its 1m "
        "candles, to exercise the reconciliation of derived intervals (repeat)",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="serve wss:// and https:// with this certificate")
    p.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import ssl
    import sys

    import anyio

    from candlewick.logsetup import setup_logging

    setup_logging((args.log_level or "WARNING").upper(), args.log_format or "text")
    if bool(args.tls_cert) != bool(args.tls_key):
        print("candlewick: --tls-cert and --tls-key go together", file=sys.stderr)
        return EXIT_USAGE
    try:
        context = _tls_context(args)
    except (OSError, ssl.SSLError) as exc:
        print(f"candlewick: cannot load the TLS certificate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    faults = set(args.fault)
    exchange = _exchange(args, faults, context)

    async def periodic() -> None:
        while True:
            await anyio.sleep(args.fault_every)
            if "drops" in faults:
                exchange.drop_connections()
            if "stalls" in faults:
                exchange.stall_connections()

    async def serve() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(exchange.serve)
            print(_banner(args, exchange, faults, tls=context is not None), flush=True)
            if faults & {"drops", "stalls"}:
                tg.start_soon(periodic)

    try:
        anyio.run(serve)
    except OSError as exc:
        print(f"candlewick: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The server TLS context of ``--tls-cert``/``--tls-key``, or ``None`` for plain ws:// and http://."""
    import ssl

    if not args.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


def _exchange(args: argparse.Namespace, faults: set[str], context: ssl.SSLContext | None) -> FakeExchange:
    """The fake exchange the options describe, with the chosen faults switched on."""
    import time

    from candlewick.testing import DEFAULT_COINS, CoinSpec, FakeExchange, full_universe, schedule

    known = {c.name: c for c in DEFAULT_COINS}
    coins = tuple(known.get(name) or CoinSpec(name, 1.0) for name in args.coins) if args.coins else DEFAULT_COINS
    if not args.coins and args.universe == "full":
        every = int(args.listing_every * 1000)
        coins = schedule(full_universe(), now_ms=int(time.time() * 1000), every_ms=every, count=24)
    exchange = FakeExchange(
        seed=args.seed,
        host=args.host,
        port=args.port,
        coins=coins,
        weight_per_minute=1200 if "rate-limit" in faults else None,
        ssl_context=context,
    )
    exchange.faults.duplicates = "duplicates" in faults
    exchange.faults.out_of_order = "out-of-order" in faults
    exchange.faults.garbage_rate = 0.05 if "garbage" in faults else 0.0
    exchange.faults.page_limit = 500 if "pages-500" in faults else exchange.faults.page_limit
    if "sparse" in faults:
        exchange.sparse_coins.update(c.name for c in coins)
    exchange.model.differs.update(dict(args.differs))
    return exchange


def _market_period(text: str) -> tuple[tuple[str, str], int]:
    """``BTC/5m`` or ``BTC/5m:3`` as ((coin, interval), every)."""
    from candlewick.model import check_interval

    market, _, every = text.partition(":")
    coin, _, interval = market.rpartition("/")
    try:
        check_interval(interval)
        period = int(every) if every else 1
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    if not coin or period < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not COIN/INTERVAL[:N] with N >= 1")
    return (coin, interval), period


def _banner(args: argparse.Namespace, exchange: FakeExchange, faults: set[str], *, tls: bool) -> str:
    """What the command prints once listening: where it is and the config lines to use it."""
    names = [c.name for c in exchange.model.coins]
    coins = " ".join(names) if len(names) <= 12 else f'{len(names)} (use coins = ["*", "spot:*", "xyz:*"])'
    lines = [
        f"fake Hyperliquid exchange on {args.host}:{exchange.port} (seed {args.seed}, "
        f"coins {coins}, faults {', '.join(sorted(faults)) or 'none'})",
        "put these in [sources.hyperliquid] of candlewick.toml:",
        f'  ws_url = "{exchange.ws_url}"',
        f'  rest_url = "{exchange.rest_url}"',
    ]
    if tls:
        lines.append(f'  ca_file = "{args.tls_cert}"')
    lines.append("Ctrl-C stops.")
    return "\n".join(lines)
