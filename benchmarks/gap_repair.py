"""Gap repair after a forced disconnect: time until the database is complete, and REST weight spent.

A daemon (live Hyperliquid source, gap repair, memory buffer, SQLite sink; default timings)
runs against the fake exchange on a clock running ``--speed`` times faster than real time.
For each outage length D the fake drops every websocket, then for D seconds (clock time)
refuses websocket handshakes only (``ws``: the common server-side disconnect, REST still
answers), accepts every connection and hangs up (``server``: the exchange is down behind a
front that still answers TCP), or is not there at all (``network``: TCP is refused, as when
the NAS loses its uplink). We measure

- the time from the disconnect until every candle that closed before the reconnect is stored
  exactly as the exchange has it (target: <= D + 10 s), and
- the REST weight the exchange charged from the disconnect until then, against the minimum
  for the candles the outage hid from the live feed (one ``candleSnapshot`` per market after
  the outage: 20 + 1 per 60 candles). Keeping the database complete *during* a websocket
  outage costs one request per closed candle per market instead.

Columns: ``hidden`` candles closed (or open at the disconnect) while the feed was down;
``missing at D`` of those still absent or wrong when the outage ended.

Usage: python benchmarks/gap_repair.py [--speed 10] [--outages 30 120 300] [--markets 4]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from candlewick.config import Settings
from candlewick.model import INTERVAL_MS, open_time
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.testing import FakeExchange, ScaledClock

if TYPE_CHECKING:
    from anyio.abc import ByteStream

    from candlewick.testing._http import HttpRequest

COINS = ("BTC", "ETH", "SOL", "HYPE")
SCENARIOS = ("ws", "server", "network")


class OutageExchange(FakeExchange):
    """The fake exchange with a switch that refuses websocket handshakes while REST keeps working."""

    ws_down = False

    async def _serve_ws(self, stream: ByteStream, req: HttpRequest) -> None:
        if self.ws_down:
            await stream.aclose()
            return
        await super()._serve_ws(stream, req)


INTERVALS = ("1m", "5m")


def stored(db: Path, coin: str, interval: str, start: int, end: int) -> list[tuple[Any, ...]]:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(
                "SELECT time, open, high, low, close, volume, trades FROM candles"
                " WHERE coin=? AND interval=? AND closed=1 AND time BETWEEN ? AND ? ORDER BY time",
                (coin, interval, start, end),
            ).fetchall()
    except sqlite3.OperationalError:
        return []


def truth(ex: FakeExchange, coin: str, interval: str, start: int, end: int) -> list[tuple[Any, ...]]:
    return [
        (c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades) for c in ex.truth(coin, interval, start, end)
    ]


async def episode(
    scenario: str, outage: float, speed: float, markets: list[tuple[str, str]], tmp: Path
) -> dict[str, Any]:
    clock = ScaledClock(speed)
    tag = f"{scenario}-{outage:g}"
    db = tmp / f"gap-{tag}.db"
    async with OutageExchange(seed=11, clock=clock, push_interval=1.0) as ex:
        settings = Settings.model_validate({
            "sources": {
                "hyperliquid": {
                    "ws_url": ex.ws_url, "rest_url": ex.rest_url, "backfill_on_start": "none",
                    "coins": sorted({c for c, _ in markets}), "intervals": sorted({i for _, i in markets}),
                },
            },
            "sink": {"use": "sqlite", "sqlite": {"path": str(db), "synchronous": "NORMAL"}},
            "spool": {"dir": tmp / f"spool-{tag}"},
            "daemon": {"data_dir": tmp / f"data-{tag}"},
        })  # fmt: skip
        daemon = Daemon(settings, build_plugin_manager(), clock=clock)
        daemon.build()
        async with anyio.create_task_group() as tg:
            await tg.start(lambda *, task_status: daemon.run(task_status=task_status, signals=False))
            # steady state: every market has a stored candle
            while not all(stored(db, c, i, 0, 2**62) for c, i in markets):  # noqa: ASYNC110 (polls the file)
                await anyio.sleep(0.05)
            first = {m: stored(db, *m, 0, 2**62)[0][0] for m in markets}
            weight0 = ex.stats.rest_weight
            t0 = clock.monotonic()
            newest = {m: stored(db, *m, 0, 2**62)[-1][0] for m in markets}
            if scenario == "ws":
                ex.ws_down = True
            elif scenario == "server":
                ex.faults.refuse_connections = True
            ex.drop_connections()
            if scenario == "network":
                ex.go_offline()
            await clock.sleep(outage)
            ex.ws_down = ex.faults.refuse_connections = False
            await ex.go_online()
            back_ms = ex.now_ms()
            # every candle that closed before the reconnect must be stored, exactly; the minimum
            # weight pays one request per market for the candles wrong or absent at the reconnect
            target = {m: open_time(m[1], back_ms) - INTERVAL_MS[m[1]] for m in markets}
            hidden = {m: len(truth(ex, *m, newest[m] + 1, target[m])) for m in markets}
            missed = {}
            for m in markets:
                have = set(stored(db, *m, newest[m], target[m]))
                missed[m] = sum(1 for row in truth(ex, *m, newest[m], target[m]) if row not in have)
            minimum = sum(20 + math.ceil(n / 60) for n in hidden.values() if n)
            while not all(  # noqa: ASYNC110 (polls the database file)
                stored(db, c, i, first[(c, i)], target[(c, i)]) == truth(ex, c, i, first[(c, i)], target[(c, i)])
                for c, i in markets
            ):
                await anyio.sleep(0.02)
            elapsed = clock.monotonic() - t0
            spent = ex.stats.rest_weight - weight0
            daemon.request_shutdown("benchmark over")
        return {
            "scenario": scenario, "outage": outage, "hidden": sum(hidden.values()),
            "missing": sum(missed.values()), "elapsed": elapsed,
            "spent": spent, "minimum": minimum,
        }  # fmt: skip


def t0_ms(ex: FakeExchange, clock: ScaledClock, t0: float) -> int:
    """Wall time (ms) of the monotonic instant ``t0``."""
    return ex.now_ms() - int((clock.monotonic() - t0) * 1000)


async def amain(args: argparse.Namespace) -> None:
    markets = [(c, i) for c in COINS for i in INTERVALS][: args.markets]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios:
            for outage in args.outages:
                rows.append(await episode(scenario, outage, args.speed, markets, Path(tmp)))
    print(f"markets: {', '.join(f'{c}/{i}' for c, i in markets)}; clock speed x{args.speed:g}; times in clock seconds")
    print(
        f"{'outage':<8} {'D (s)':>6} {'hidden':>7} {'missing at D':>13}"
        f" {'complete after (s)':>19} {'target D+10':>12} {'x target':>9}"
        f" {'weight':>7} {'min weight':>11} {'x min':>6}"
    )
    for r in rows:
        target = r["outage"] + 10
        ratio = f"{r['spent'] / r['minimum']:.2f}" if r["minimum"] else "-"
        print(
            f"{r['scenario']:<8} {r['outage']:>6g} {r['hidden']:>7.0f} {r['missing']:>13.0f}"
            f" {r['elapsed']:>19.1f} {target:>12g} {r['elapsed'] / target:>9.2f}"
            f" {r['spent']:>7.0f} {r['minimum']:>11.0f} {ratio:>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speed", type=float, default=10.0, help="clock speed (x real time)")
    parser.add_argument("--outages", type=float, nargs="+", default=[30.0, 120.0, 300.0], help="outage lengths, s")
    parser.add_argument("--markets", type=int, default=4, help="markets followed (coins x 1m, 5m)")
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS), help="outage kinds")
    anyio.run(amain, parse_args(parser))


def parse_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    return parser.parse_args()


if __name__ == "__main__":
    main()
