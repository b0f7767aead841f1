"""Manual check: files from `candlewick export --format freqtrade` load with freqtrade's own data handlers.

freqtrade is not a dependency of candlewick (nor of its tests); install it in a venv of its own:

    python3 -m venv /tmp/ft-venv
    /tmp/ft-venv/bin/pip install freqtrade --no-deps
    /tmp/ft-venv/bin/pip install pandas numpy python-rapidjson pyarrow jsonschema orjson rich humanize \\
        ccxt schedule cachetools pydantic sqlalchemy

then, from candlewick's venv:

    python benchmarks/freqtrade_check.py --freqtrade-python /tmp/ft-venv/bin/python

It stores BTC 1h, 1w and 1M candles (one still open) in a SQLite file, exports them in both
freqtrade formats, and asks freqtrade's JsonDataHandler/FeatherDataHandler to list and load
them as the futures pair BTC/USDC:USDC. Prints one line per check; exits 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
from read_support import context, fill

from candlewick.cli import main as candlewick
from candlewick.model import Candle, close_time, next_open
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.sink import SqliteSink

START = 1_700_006_400_000  # 2023-11-15 00:00 UTC
COUNTS = {"1h": 500, "1w": 20, "1M": 8}
MONTH_START = 1_698_796_800_000  # 2023-11-01 00:00 UTC

LOADER = r"""
import json, sys
from pathlib import Path
from freqtrade.data.history.datahandlers.jsondatahandler import JsonDataHandler
from freqtrade.data.history.datahandlers.featherdatahandler import FeatherDataHandler
from freqtrade.enums import CandleType, TradingMode

datadir = Path(sys.argv[1])
out = {}
for name, handler in (("json", JsonDataHandler), ("feather", FeatherDataHandler)):
    listed = sorted((p, t, str(c)) for p, t, c in handler.ohlcv_get_available_data(datadir, TradingMode.FUTURES))
    frames = {}
    for pair, timeframe, _ in listed:
        df = handler(datadir).ohlcv_load(pair, timeframe, CandleType.FUTURES, fill_missing=False)
        frames[timeframe] = {
            "rows": len(df),
            "first": [int(df["date"].iloc[0].timestamp() * 1000), *map(float, df.iloc[0, 1:6])],
            "last": [int(df["date"].iloc[-1].timestamp() * 1000), *map(float, df.iloc[-1, 1:6])],
        }
    out[name] = {"listed": listed, "frames": frames}
print(json.dumps(out))
"""


def candles(interval: str, n: int) -> list[Candle]:
    t = MONTH_START if interval == "1M" else START if interval == "1h" else 1_700_092_800_000  # a Thursday
    out = []
    for i in range(n):
        price = f"{37000 + i}.{i % 10}5"
        out.append(
            Candle("BTC", interval, t, close_time(interval, t), price, f"{37100 + i}", f"{36900 + i}.125", price,
                   f"{i}.00012340", 10 + i, closed=i < n - 1)
        )  # fmt: skip
        t = next_open(interval, t)
    return out


def as_floats(c: Candle) -> list[float]:
    return [c.open_time, *(float(getattr(c, f)) for f in ("open", "high", "low", "close", "volume"))]


async def store(db: Path) -> None:
    rows = (c for interval, n in COUNTS.items() for c in candles(interval, n))
    await fill(SqliteSink(context("sqlite", SqliteConfig(path=db))), rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--freqtrade-python", default="/tmp/ft-venv/bin/python")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        db, config, datadir = base / "c.db", base / "c.toml", base / "user_data" / "data" / "hyperliquid"
        anyio.run(store, db)
        config.write_text(f'[sink.sqlite]\npath = "{db}"\n')
        for interval in COUNTS:
            for fmt in ("json", "feather"):
                argv = ["export", "-c", str(config), "--coin", "BTC", "--interval", interval, "--format", "freqtrade",
                        "--freqtrade-format", fmt, "-o", str(datadir)]  # fmt: skip
                if candlewick(argv) != 0:
                    print(f"export failed: {argv}")
                    return 1
        print("files:", *sorted(str(p.relative_to(datadir)) for p in datadir.rglob("*.*")))
        loader = [args.freqtrade_python, "-c", LOADER, str(datadir)]
        done = subprocess.run(loader, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stderr)
            return 1
        loaded = json.loads(done.stdout)
    failures = 0
    for fmt, result in loaded.items():
        want = sorted(("BTC/USDC:USDC", tf, "futures") for tf in COUNTS)
        ok = [tuple(x) for x in result["listed"]] == want
        failures += not ok
        print(f"{fmt:8} listed {result['listed']} {'ok' if ok else 'MISMATCH'}")
        for interval, n in COUNTS.items():
            frame, rows = result["frames"][interval], candles(interval, n)[:-1]  # closed candles only
            first = [
                rows[0].open_time,
                *(float(getattr(rows[0], f)) for f in ("open", "high", "low", "close", "volume")),
            ]
            last = [
                rows[-1].open_time,
                *(float(getattr(rows[-1], f)) for f in ("open", "high", "low", "close", "volume")),
            ]
            ok = frame["rows"] == len(rows) and frame["first"] == first and frame["last"] == last
            failures += not ok
            print(f"{fmt:8} {interval:3} rows {frame['rows']:4} first/last candle {'ok' if ok else 'MISMATCH'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
