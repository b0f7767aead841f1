"""Deterministic market data of the fake exchange: pure functions of (seed, coin, interval, t).

Every interval is the exact aggregate of the 1m candles, as on the exchange: each UTC day is
drawn from a hash (its open and close are the price path at its bounds, so series are
continuous), then split into 12h, 4h, 2h, 1h, 30m, 15m and 1m candles (:mod:`._tree`), and any
candle is the fold of the largest such pieces that tile it (3m, 5m, 3d, 1w and 1M included).
Within a minute, trades happen at fixed times; the open candle of any interval is the fold of
its closed minutes and the current minute after ``k`` of its ``n`` trades, which is what the
websocket pushes and the REST snapshot serves; the final candle is the truth. Prices keep 5
significant figures like Hyperliquid's, volume the coin's ``szDecimals``; both are decimal
strings. ``differs`` makes the native candles of chosen markets differ from the aggregate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import struct
from dataclasses import dataclass, field

from candlewick import model as grid
from candlewick.model import DAY_MS, INTERVAL_MS, MINUTE_MS, Candle
from candlewick.testing._tree import Part, fold, format_price, split

__all__ = [
    "DEFAULT_COINS",
    "LEVELS",
    "CoinSpec",
    "MarketModel",
    "format_price",
    "format_size",
]

#: 2023-05-01 00:00 UTC: when the default coins were listed (history starts here).
DEFAULT_LISTED_AT = 1_682_899_200_000
#: The intervals a day is split into, each tiling the one before it.
LEVELS: tuple[str, ...] = ("1d", "12h", "4h", "2h", "1h", "30m", "15m", "1m")
#: Entries kept in each memo before it is emptied.
MEMO_LIMIT = 200_000


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
    #: Markets whose native candles differ from the aggregate of their 1m candles (one more trade
    #: and volume unit): ``{("BTC", "5m"): 1}`` every candle, ``2`` every second one, and so on.
    differs: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name = {c.name: c for c in self.coins}
        self._days: dict[tuple[str, bool, int], Part | None] = {}
        self._splits: dict[tuple[str, bool, int, int], list[Part | None]] = {}

    def update(self, spec: CoinSpec) -> None:
        """List a new coin, or change one (a delisting), while the exchange runs."""
        known = spec.name in self._by_name
        self._by_name[spec.name] = spec
        self.coins = tuple(spec if c.name == spec.name else c for c in self.coins) if known else (*self.coins, spec)
        self._days.clear()  # a delisting changes the candles from then on
        self._splits.clear()

    def trades(self, spec: CoinSpec, interval: str, t: int) -> int:
        """Trades in the final candle opening at ``t`` (0: the candle does not exist)."""
        candle = self.candle(spec.name, interval, t)
        return 0 if candle is None else candle.trades

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

    # -- the tree of candles ---------------------------------------------------------------

    def _day(self, spec: CoinSpec, sparse: bool, d: int) -> Part | None:
        key = (spec.name, sparse, d)
        memo = self._days
        if key in memo:
            return memo[key]
        first = max(d, grid.open_time("1m", spec.listed_at))
        end = min(d + DAY_MS, _delisted(spec))
        minutes = max(0, (end - first) // MINUTE_MS)
        part: Part | None = None
        if minutes:
            r = self._rand(spec.name, "1d", d)
            n = max(1 if sparse else minutes, int(spec.activity * minutes * (0.3 + 1.4 * r[0])))
            units = max(n, int(n * (0.01 + r[2]) * 10**spec.sz_decimals * 10 / max(spec.price, 1e-6) ** 0.5))
            o, c = self.price_at(spec, first), self.price_at(spec, end)
            spread = 0.0015 * math.sqrt(minutes) ** 0.5
            os_, cs = format_price(o), format_price(c)
            hs = max((format_price(max(o, c) * (1 + spread * r[1])), os_, cs), key=float)
            ls = min((format_price(min(o, c) * (1 - spread * r[3])), os_, cs), key=float)
            part = (os_, hs, ls, cs, units, n)
        if len(memo) > MEMO_LIMIT:
            memo.clear()
        memo[key] = part
        return part

    def _children(self, spec: CoinSpec, sparse: bool, level: int, t: int) -> list[Part | None]:
        """The pieces of ``LEVELS[level + 1]`` of the candle of ``LEVELS[level]`` opening at ``t``."""
        key = (spec.name, sparse, level, t)
        memo = self._splits
        cached = memo.get(key)
        if cached is not None:
            return cached
        parent = self._node(spec, sparse, level, t)
        step = INTERVAL_MS[LEVELS[level + 1]]
        starts = list(range(t, t + INTERVAL_MS[LEVELS[level]], step))
        out: list[Part | None]
        if parent is None:
            out = [None] * len(starts)
        else:
            listed = grid.open_time("1m", spec.listed_at)
            gone = _delisted(spec)
            listed_minutes = [max(0, min(s + step, gone) - max(s, listed)) // MINUTE_MS for s in starts]
            leaf = LEVELS[level + 1] == "1m"
            eligible = [
                m > 0 and not (leaf and sparse and self._rand(spec.name, "m", s)[3] < self.sparse_probability)
                for m, s in zip(listed_minutes, starts, strict=True)
            ]
            minimum = [0 if sparse else m for m in listed_minutes]
            out = split(
                parent, minimum, eligible,
                lambda i: format_price(self.price_at(spec, t + i * step)),
                lambda i: self._rand(spec.name, LEVELS[level + 1], starts[i]),
            )  # fmt: skip
        if len(memo) > MEMO_LIMIT:
            memo.clear()
        memo[key] = out
        return out

    def _node(self, spec: CoinSpec, sparse: bool, level: int, t: int) -> Part | None:
        """The final candle of ``LEVELS[level]`` opening at ``t`` (``t`` on the epoch grid)."""
        if level == 0:
            return self._day(spec, sparse, t)
        above = INTERVAL_MS[LEVELS[level - 1]]
        start = t - t % above
        return self._children(spec, sparse, level - 1, start)[(t - start) // INTERVAL_MS[LEVELS[level]]]

    def _fold_range(self, spec: CoinSpec, sparse: bool, start: int, end: int) -> Part | None:
        """The fold of every minute in ``[start, end)`` from the largest pieces that tile it."""
        parts: list[Part | None] = []
        pos = start
        while pos < end:
            for level, name in enumerate(LEVELS):
                step = INTERVAL_MS[name]
                if pos % step == 0 and pos + step <= end:
                    parts.append(self._node(spec, sparse, level, pos))
                    pos += step
                    break
            else:
                raise ValueError(f"{start}..{end} is not on the minute grid")
        return fold(parts)

    def _partial_minute(self, spec: CoinSpec, sparse: bool, m: int, now_ms: int) -> Part | None:
        """The minute opening at ``m`` as it stands at ``now_ms`` (trades at fixed times)."""
        final = self._node(spec, sparse, len(LEVELS) - 1, m)
        if final is None or now_ms >= m + MINUTE_MS:
            return final
        o, h, lo, c, units, n = final
        k = min(n, max(0, now_ms - m) * (n + 1) // MINUTE_MS)
        if k == 0:
            return None
        if k == n:
            return final
        f = k / n
        of, cf = float(o), float(c)

        def bound(x: float) -> str:
            return h if x > float(h) else lo if x < float(lo) else format_price(x)

        cs = bound(of + (cf - of) * f)
        top, bottom = max(of, float(cs)), min(of, float(cs))
        hs = max((o, cs, bound(top + (float(h) - max(of, cf)) * f)), key=float)
        ls = min((o, cs, bound(bottom - (min(of, cf) - float(lo)) * f)), key=float)
        return (o, hs, ls, cs, units * k // n, k)

    def _differs(self, coin: str, interval: str, t: int) -> bool:
        period = self.differs.get((coin, interval))
        return period is not None and period > 0 and (t // INTERVAL_MS[interval]) % period == 0

    def _candle(self, spec: CoinSpec, interval: str, t: int, part: Part | None, closed: bool) -> Candle | None:
        if part is None:
            return None
        o, h, lo, c, units, n = part
        if self._differs(spec.name, interval, t):
            units, n = units + 1, n + 1  # the exchange's own candle is not the aggregate
        return Candle(
            spec.name, interval, t, self.close_time(interval, t), o, h, lo, c,
            format_size(units, spec.sz_decimals), n, closed=closed, origin="rest",
        )  # fmt: skip

    def candle(self, coin: str, interval: str, t: int) -> Candle | None:
        """The final candle opening at ``t`` (``None``: it has no trades)."""
        spec = self._by_name.get(coin)
        if spec is None:
            return None
        sparse = coin in self.sparse
        part = self._fold_range(spec, sparse, t, self.next_open(interval, t))
        return self._candle(spec, interval, t, part, True)

    def state(self, coin: str, interval: str, now_ms: int) -> Candle | None:
        """The open candle of a market as it stands at ``now_ms`` (``None``: no trade yet)."""
        spec = self._by_name.get(coin)
        if spec is None:
            return None
        sparse = coin in self.sparse
        t = self.open_time(interval, now_ms)
        m = grid.open_time("1m", now_ms)
        part = fold((self._fold_range(spec, sparse, t, m), self._partial_minute(spec, sparse, m, now_ms)))
        return self._candle(spec, interval, t, part, False)

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


def _delisted(spec: CoinSpec) -> int:
    """When the coin stops trading (no trade at or after it), on the minute grid."""
    return 2**62 if spec.delisted_at is None else grid.open_time("1m", spec.delisted_at)


def _month_index(t: int) -> int:
    d = dt.datetime.fromtimestamp(t / 1000, tz=dt.UTC)
    return d.year * 12 + d.month - 1
