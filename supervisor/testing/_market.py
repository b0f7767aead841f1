"""Deterministic market data of the fake exchange: pure functions of (seed, coin, interval, t).

Each candle is drawn independently from a hash, except that its open equals the previous
candle's close (both are the price path at the shared boundary), so series look continuous.
Within a candle, trades happen at fixed times; the state after ``k`` of ``n`` trades is what
the websocket pushes and the REST snapshot serves for the open candle, and ``k == n`` is the
final candle (the truth). Prices keep 5 significant figures like Hyperliquid's, volume the
coin's ``szDecimals``; both are decimal strings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from dataclasses import dataclass, field

from candlewick import model as grid
from candlewick.model import INTERVAL_MS, MINUTE_MS, Candle

__all__ = [
    "DEFAULT_COINS",
    "CoinSpec",
    "MarketModel",
    "format_price",
    "format_size",
]

#: 2023-05-01 00:00 UTC: when the default coins were listed (history starts here).
DEFAULT_LISTED_AT = 1_682_899_200_000


@dataclass(frozen=True, slots=True)
class CoinSpec:
    """One coin the fake exchange lists."""

    name: str
    price: float
    sz_decimals: int = 2
    #: ``perp`` (in ``meta``) or ``spot`` (in ``spotMeta``).
    kind: str = "perp"
    #: Trades per minute, on average.
    activity: float = 30.0
    listed_at: int = DEFAULT_LISTED_AT
    #: When trading stopped (``meta`` then says ``isDelisted``); ``None``: still trading.
    delisted_at: int | None = None

    @property
    def dex(self) -> str:
        """The HIP-3 dex of a perp named ``dex:COIN`` (``""``: the main dex)."""
        return self.name.split(":", 1)[0] if self.kind == "perp" and ":" in self.name else ""

    def listed(self, now_ms: int) -> bool:
        """Listed by ``now_ms`` (delisted ones stay listed, flagged)."""
        return self.listed_at <= now_ms


DEFAULT_COINS: tuple[CoinSpec, ...] = (
    CoinSpec("BTC", 71_400.0, 5, activity=60.0),
    CoinSpec("ETH", 3_500.0, 4, activity=40.0),
    CoinSpec("SOL", 150.0, 2),
    CoinSpec("DOGE", 0.15, 0),
    CoinSpec("kPEPE", 0.0016, 0, activity=10.0),
    CoinSpec("HYPE", 30.0, 2),
    CoinSpec("PURR/USDC", 0.2, 0, kind="spot", activity=5.0),
    CoinSpec("@1", 1.5, 2, kind="spot", activity=2.0),
    CoinSpec("@107", 30.0, 2, kind="spot", activity=20.0),
)


def format_price(x: float) -> str:
    """A positive price with 5 significant figures, as Hyperliquid writes it (``"71400.0"``)."""
    if x <= 0 or not math.isfinite(x):
        x = 1e-8
    exp = math.floor(math.log10(x)) - 4
    if exp >= 0:
        value = round(x / 10**exp) * 10**exp
        return f"{int(value)}.0"
    decimals = -exp
    text = f"{x:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text += "0"
    return text


def format_size(units: int, decimals: int) -> str:
    """``units`` in 10**-decimals, as a decimal string that always has a fractional part."""
    if decimals == 0:
        return f"{units}.0"
    whole, frac = divmod(units, 10**decimals)
    digits = f"{frac:0{decimals}d}".rstrip("0") or "0"
    return f"{whole}.{digits}"


@dataclass
class MarketModel:
    """Candles of every listed coin, reproducible from ``seed``."""

    seed: int = 0
    coins: tuple[CoinSpec, ...] = DEFAULT_COINS
    #: Coins whose 1m candles sometimes have no trades at all (and so do not exist).
    sparse: set[str] = field(default_factory=set)
    #: Probability that a 1m candle of a sparse coin has no trades.
    sparse_probability: float = 0.35
    #: Per interval, ms to shift the exchange's grid by (``{"1w": 4 * DAY_MS}``: weeks from Monday),
    #: to play an exchange whose alignment differs from candlewick's. Empty: Hyperliquid's grid.
    grid_shift: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name = {c.name: c for c in self.coins}

    def update(self, spec: CoinSpec) -> None:
        """List a new coin, or change one (a delisting), while the exchange runs."""
        known = spec.name in self._by_name
        self._by_name[spec.name] = spec
        self.coins = tuple(spec if c.name == spec.name else c for c in self.coins) if known else (*self.coins, spec)

    # -- the exchange's grid (candlewick's, unless shifted) ------------------------------------

    def open_time(self, interval: str, ts: int) -> int:
        """Open time of the candle containing ``ts`` on this exchange's grid."""
        shift = self.grid_shift.get(interval, 0)
        return grid.open_time(interval, ts - shift) + shift

    def next_open(self, interval: str, t: int) -> int:
        """Open time of the candle after the one opening at ``t``."""
        shift = self.grid_shift.get(interval, 0)
        return grid.next_open(interval, t - shift) + shift

    def close_time(self, interval: str, t: int) -> int:
        """The inclusive close time ``T`` of the candle opening at ``t``."""
        return self.next_open(interval, t) - 1

    def coin(self, name: str) -> CoinSpec | None:
        return self._by_name.get(name)

    def _rand(self, *parts: object) -> tuple[float, float, float, float]:
        digest = hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=16).digest()
        a, b, c, d = struct.unpack("<4I", digest)
        scale = 2.0**32
        return (a / scale, b / scale, c / scale, d / scale)

    def price_at(self, spec: CoinSpec, ts: int) -> float:
        """The price path at a candle boundary ``ts`` (ms)."""
        days = ts / 86_400_000
        drift = (
            0.25 * math.sin(days / 97.0 + len(spec.name)) + 0.08 * math.sin(days / 7.3) + 0.02 * math.sin(days * 9.1)
        )
        u = self._rand(spec.name, "p", ts)[0]
        return spec.price * math.exp(drift + 0.002 * (u - 0.5))

    def trades(self, spec: CoinSpec, interval: str, t: int) -> int:
        """Trades in the candle opening at ``t`` (0: the candle does not exist)."""
        if t < self.open_time(interval, spec.listed_at):
            return 0
        if spec.delisted_at is not None and t >= spec.delisted_at:
            return 0
        r = self._rand(spec.name, interval, t)
        if interval == "1m" and spec.name in self.sparse and r[3] < self.sparse_probability:
            return 0
        minutes = max(1.0, (self.next_open(interval, t) - t) / MINUTE_MS)
        return max(1, int(spec.activity * minutes * (0.3 + 1.4 * r[0])))

    def candle(self, coin: str, interval: str, t: int, done: int | None = None) -> Candle | None:
        """The candle opening at ``t`` after ``done`` of its trades (``None``: all, i.e. final).

        Returns ``None`` when the candle has no trades (yet).
        """
        spec = self._by_name.get(coin)
        if spec is None:
            return None
        n = self.trades(spec, interval, t)
        k = n if done is None else min(max(done, 0), n)
        if k == 0:
            return None
        end = self.next_open(interval, t)
        o = self.price_at(spec, t)
        c_final = self.price_at(spec, end)
        r = self._rand(spec.name, interval, t, "hl")
        spread = 0.0015 * math.sqrt((end - t) / MINUTE_MS) ** 0.5
        hi_final = max(o, c_final) * (1 + spread * r[0])
        lo_final = min(o, c_final) * (1 - spread * r[1])
        units_final = max(1, int(n * (0.01 + r[2]) * 10**spec.sz_decimals * 10 / max(spec.price, 1e-6) ** 0.5))
        f = k / n
        c = o + (c_final - o) * f
        hi = max(o, c) + (hi_final - max(o, c_final)) * f
        lo = min(o, c) - (min(o, c_final) - lo_final) * f
        units = units_final * k // n
        os_, cs = format_price(o), format_price(c)
        hs = format_price(hi)
        ls = format_price(lo)
        # Rounding must not put the close outside the range.
        hs = max((hs, os_, cs), key=float)
        ls = min((ls, os_, cs), key=float)
        return Candle(
            coin, interval, t, self.close_time(interval, t), os_, hs, ls, cs,
            format_size(units, spec.sz_decimals), k, closed=done is None, origin="rest",
        )  # fmt: skip

    def done_at(self, coin: str, interval: str, t: int, now_ms: int) -> int:
        """How many trades of the candle opening at ``t`` have happened by ``now_ms``."""
        spec = self._by_name.get(coin)
        if spec is None:
            return 0
        n = self.trades(spec, interval, t)
        length = self.next_open(interval, t) - t
        if now_ms >= t + length:
            return n
        if now_ms < t:
            return 0
        return min(n, (now_ms - t) * (n + 1) // length)

    def state(self, coin: str, interval: str, now_ms: int) -> Candle | None:
        """The open candle of a market as it stands at ``now_ms`` (``None``: no trade yet)."""
        t = self.open_time(interval, now_ms)
        done = self.done_at(coin, interval, t, now_ms)
        return self.candle(coin, interval, t, done)

    def open_times(self, interval: str, start: int, end: int) -> list[int]:
        """Open times of every candle slot of ``interval`` overlapping ``[start, end]``."""
        out = []
        t = self.open_time(interval, max(0, start))
        while t <= end:
            out.append(t)
            t = self.next_open(interval, t)
        return out

    def step_back(self, interval: str, t: int, count: int) -> int:
        """The open time ``count`` candles before ``t``."""
        if interval != "1M":
            return t - count * INTERVAL_MS[interval]
        shift = self.grid_shift.get(interval, 0)
        year, month = divmod(_month_index(t - shift) - count, 12)
        return int(dt.datetime(year, month + 1, 1, tzinfo=dt.UTC).timestamp() * 1000) + shift


def _month_index(t: int) -> int:
    d = dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC)
    return d.year * 12 + d.month - 1
