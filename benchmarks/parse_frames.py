"""µs per candle frame parsed and validated on one core: stdlib json against the msgspec core.

Both full paths do the same work: decode, check every field's type (integers that are not
bools, exact decimal strings), check the interval, its alignment and ``T``, and build the
:class:`~candlewick.model.Candle`. The protocol core leaves alignment to the grid check
(:class:`~candlewick.gridwatch.GridWatch`, which reports instead of refusing), so the row
"parse_frame + grid check" is the one to compare. Target: the protocol core at most 5 µs per frame.

Usage: python benchmarks/parse_frames.py [--frames N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable

import msgspec

from candlewick.gridwatch import GridWatch
from candlewick.model import INTERVAL_MS, Candle
from candlewick.plugins.hyperliquid.protocol import CandleUpdate, parse_frame

_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def frames(count: int) -> list[bytes]:
    """Realistic candle frames (as the websocket delivers them, bytes), varying values."""
    out = []
    t0 = 1_710_146_280_000
    for k in range(count):
        t = t0 + (k % 500) * 60_000
        data = {
            "t": t, "T": t + 59_999, "s": "BTC", "i": "1m",
            "o": f"{71400 + k % 97}.0", "c": f"{71411 + k % 89}.0", "h": f"{71422 + k % 83}.0",
            "l": f"{71389 - k % 79}.0", "v": f"{1 + k % 13}.{k % 100000:05d}", "n": 20 + k % 300,
        }  # fmt: skip
        out.append(json.dumps({"channel": "candle", "data": data}, separators=(",", ":")).encode())
    return out


def stdlib_parse(raw: bytes) -> Candle | None:
    """The same validation written with json + isinstance + a compiled regex."""
    try:
        msg = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(msg, dict) or msg.get("channel") != "candle":
        return None
    d = msg.get("data")
    if not isinstance(d, dict):
        return None
    t, big_t, n = d.get("t"), d.get("T"), d.get("n")
    for v in (t, big_t, n):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            return None
    assert isinstance(t, int)
    assert isinstance(big_t, int)
    assert isinstance(n, int)
    s, i = d.get("s"), d.get("i")
    if not isinstance(s, str) or not s or not isinstance(i, str):
        return None
    prices = [d.get(k) for k in ("o", "h", "l", "c", "v")]
    for p in prices:
        if not isinstance(p, str) or len(p) > 64 or not _DECIMAL.match(p):
            return None
    step = INTERVAL_MS.get(i)
    if step is None or t % step or big_t - t != step - 1:
        return None
    o, h, lo, c, v = (str(p) for p in prices)
    return Candle(s, i, t, big_t, o, h, lo, c, v, n)


def core_parse(raw: bytes | str) -> Candle | None:
    event = parse_frame(raw)
    return event.candles[0] if isinstance(event, CandleUpdate) else None


_watch = GridWatch()


def core_parse_and_grid(raw: bytes | str) -> Candle | None:
    """What the source does per frame: parse, then check the candle against the grid."""
    event = parse_frame(raw)
    if not isinstance(event, CandleUpdate):
        return None
    candle = event.candles[0]
    _watch.observe(candle)
    return candle


_plain = msgspec.json.Decoder()


def json_only(raw: bytes) -> object:
    return json.loads(raw)


def msgspec_only(raw: bytes) -> object:
    return _plain.decode(raw)


def measure(fn: Callable[[bytes], object], data: list[bytes], rounds: int) -> tuple[float, float]:
    """Best and median µs per frame over ``rounds`` passes (best: least disturbed by other load)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in data:
            fn(raw)
        samples.append((time.perf_counter() - start) / len(data) * 1e6)
    return min(samples), statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    data = frames(args.frames)
    for raw in data[:100]:  # both full paths agree on every frame
        assert stdlib_parse(raw) == core_parse(raw) is not None
    cases = {
        "json.loads only (no checks)": json_only,
        "msgspec decode only (no checks)": msgspec_only,
        "stdlib json full path (baseline)": stdlib_parse,
        "protocol core parse_frame (msgspec)": core_parse,
        "parse_frame + grid check": core_parse_and_grid,
    }
    results = {name: measure(fn, data, args.rounds) for name, fn in cases.items()}
    texts = [raw.decode() for raw in data]  # what the websocket shell hands the source
    results["parse_frame on str (as the source)"] = measure(core_parse, texts, args.rounds)  # type: ignore[arg-type]
    base = results["stdlib json full path (baseline)"][0]
    print(f"{args.frames} candle frames x {args.rounds} rounds, one core; target: parse_frame <= 5 us/frame")
    print(f"{'path':<38} {'best us':>8} {'median us':>10} {'frames/s':>11} {'x baseline':>11}")
    for name, (best, median) in results.items():
        print(f"{name:<38} {best:>8.2f} {median:>10.2f} {1e6 / best:>11,.0f} {best / base:>11.2f}")


if __name__ == "__main__":
    main()
