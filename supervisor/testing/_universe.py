"""A full exchange for the fake: hundreds of perps, spot pairs and a HIP-3 dex, with a listing schedule.

:func:`full_universe` lists ``perps`` perpetuals of the main dex (``BTC``, ``ETH`` ... then
``P003`` ...), ``spot`` spot pairs (``PURR/USDC`` and ``@N``), and ``dex_perps`` perps of the
HIP-3 dex ``dex`` (named ``dex:COIN``). Update rates follow the market's rank as on the real
exchange: a few majors trade many times a minute, the long tail a few times an hour
(``activity = 60 / rank**0.9 + 0.05`` trades a minute). :func:`schedule` adds coins listed and
delisted in the future, so a running fake changes its ``meta`` on its own.
"""

from __future__ import annotations

from dataclasses import replace

from candlewick.testing._market import DEFAULT_COINS, CoinSpec

__all__ = ["HIP3_DEX", "full_universe", "schedule"]

#: The HIP-3 dex of the full universe.
HIP3_DEX = "xyz"
_MAJORS = ("BTC", "ETH", "SOL", "DOGE", "kPEPE", "HYPE")


def _activity(rank: int) -> float:
    rate: float = 60.0 / float(rank) ** 0.9 + 0.05
    return round(rate, 3)


def full_universe(*, perps: int = 240, spot: int = 12, dex: str = HIP3_DEX, dex_perps: int = 8) -> tuple[CoinSpec, ...]:
    """Coins of a realistic exchange (names and prices deterministic)."""
    majors = {c.name: c for c in DEFAULT_COINS}
    out: list[CoinSpec] = []
    for rank in range(1, perps + 1):
        name = _MAJORS[rank - 1] if rank <= len(_MAJORS) else f"P{rank:03d}"
        base = majors.get(name) or CoinSpec(name, round(100.0 / rank**0.5, 4), 1 + rank % 4)
        out.append(replace(base, activity=_activity(rank)))
    spots = [c for c in DEFAULT_COINS if c.kind == "spot"]
    for k in range(spot):
        if k < len(spots):
            out.append(spots[k])
        else:
            out.append(CoinSpec(f"@{200 + k}", 1.0 + k, 2, kind="spot", activity=_activity(20 + k)))
    for k in range(1, dex_perps + 1):
        out.append(CoinSpec(f"{dex}:D{k:02d}", 50.0 * k, 2, activity=_activity(10 + k)))
    return tuple(out)


def schedule(coins: tuple[CoinSpec, ...], *, now_ms: int, every_ms: int, count: int) -> tuple[CoinSpec, ...]:
    """``coins`` plus ``count`` perps listed one every ``every_ms`` from ``now_ms``, and as many
    of the tail's perps delisted half a period after each listing."""
    out = list(coins)
    tail = [k for k, c in enumerate(out) if c.kind == "perp" and not c.dex][::-1]
    for n in range(count):
        listed = now_ms + (n + 1) * every_ms
        out.append(CoinSpec(f"NEW{n + 1:02d}", 10.0 + n, 2, activity=5.0, listed_at=listed))
        if n < len(tail):
            k = tail[n]
            out[k] = replace(out[k], delisted_at=listed + every_ms // 2)
    return tuple(out)
