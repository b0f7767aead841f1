"""How the fake exchange splits a candle into the candles of a shorter interval. Pure.

A candle is a :data:`Part`: ``(open, high, low, close, volume units, trades)`` with prices as
canonical decimal strings. :func:`split` divides one into children that fold back into it
exactly (:func:`fold`): trades and volume units are apportioned with integer arithmetic, the
first traded child opens at the parent's open and the last closes at its close, and one child
carries the parent's high and one its low, every other price staying inside the parent's range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

__all__ = ["Part", "apportion", "fold", "format_price", "split"]

#: open, high, low, close, volume units, trades.
Part = tuple[str, str, str, str, int, int]


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


def _hi(a: str, b: str) -> str:
    return b if float(b) > float(a) else a


def _lo(a: str, b: str) -> str:
    return b if float(b) < float(a) else a


def fold(parts: Iterable[Part | None]) -> Part | None:
    """The candle of consecutive candles (``None``: no trades), oldest first."""
    out: Part | None = None
    for p in parts:
        if p is None:
            continue
        if out is None:
            out = p
            continue
        o, h, lo, _c, units, n = out
        out = (o, _hi(h, p[1]), _lo(lo, p[2]), p[3], units + p[4], n + p[5])
    return out


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` in proportion to integer ``weights`` (cumulative rounding: sums exactly)."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    out, acc, prev = [], 0, 0
    for w in weights:
        acc += w
        cur = total * acc // whole
        out.append(cur - prev)
        prev = cur
    return out


def split(
    parent: Part,
    minimum: Sequence[int],
    eligible: Sequence[bool],
    boundary: Callable[[int], str],
    rand: Callable[[int], tuple[float, float, float, float]],
) -> list[Part | None]:
    """Children of ``parent``: child ``i`` gets at least ``minimum[i]`` trades, extra trades only if
    ``eligible[i]``. ``boundary(i)`` is the price path where child ``i`` begins (``i`` = count: the
    end); ``rand(i)`` four uniform numbers for child ``i``."""
    o, high, low, c, units, n = parent
    k = len(minimum)
    draws = [rand(i) for i in range(k)]
    weights = [int(700 + 600 * d[0]) if eligible[i] else 0 for i, d in enumerate(draws)]
    rest = n - sum(minimum)
    if rest > 0 and not any(weights):
        weights = [1 if m or i == 0 else 0 for i, m in enumerate(minimum)]
    trades = [m + e for m, e in zip(minimum, apportion(rest, weights), strict=True)]
    vol_weights = [t * int(500 + 1000 * d[1]) for t, d in zip(trades, draws, strict=True)]
    vols = [t + e for t, e in zip(trades, apportion(units - n, vol_weights), strict=True)]
    traded = [i for i in range(k) if trades[i] > 0]
    if not traded:
        return [None] * k

    def bound(price: str) -> str:
        return high if float(price) > float(high) else low if float(price) < float(low) else price

    top = traded[int(draws[0][2] * len(traded))]
    bottom = traded[int(draws[0][3] * len(traded))]
    out: list[Part | None] = [None] * k
    for i in traded:
        co = o if i == traded[0] else bound(boundary(i))
        cc = c if i == traded[-1] else bound(boundary(i + 1))
        ch = high if i == top else _hi(_hi(co, cc), _mid(_hi(co, cc), high, draws[i][2], bound))
        cl = low if i == bottom else _lo(_lo(co, cc), _mid(_lo(co, cc), low, draws[i][3], bound))
        out[i] = (co, ch, cl, cc, vols[i], trades[i])
    return out


def _mid(a: str, b: str, r: float, bound: Callable[[str], str]) -> str:
    x, y = float(a), float(b)
    return bound(format_price(x + (y - x) * r * 0.7))
