"""Market sets in ``coins``, and what they resolve to in the exchange's metadata. Pure: no I/O.

``coins`` of ``[sources.hyperliquid]`` lists coin names and *sets* (a public contract):

- ``"*"``: every perp of the main dex (``meta``);
- ``"spot:*"``: every spot pair (``spotMeta``), named as candle subscriptions need it
  (``PURR/USDC``, ``@107``);
- ``"DEX:*"``: every perp of the HIP-3 dex ``DEX`` (``meta`` with ``"dex": "DEX"``; coins are
  ``DEX:COIN``);
- anything else is one coin as the exchange names it; names and sets mix
  (``["*", "PURR/USDC"]``).

A perp whose ``meta`` entry says ``isDelisted`` is not part of a set; one absent from the
metadata is gone. :func:`resolve` turns specs and metadata into a :class:`Resolution`;
:class:`Retirement` decides when a market that left the resolution is unsubscribed (only after
it was missing from two refreshes in a row, so one odd answer of the exchange retires nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ALL_PERPS",
    "ALL_SPOT",
    "MarketSet",
    "Metadata",
    "Resolution",
    "Retirement",
    "dexes_of",
    "has_sets",
    "parse_spec",
    "perp_names",
    "resolve",
    "spot_names",
]

#: Every perp of the main dex.
ALL_PERPS = "*"
#: Every spot pair.
ALL_SPOT = "spot:*"
_SET_SUFFIX = ":*"


@dataclass(frozen=True, slots=True)
class MarketSet:
    """A set of coins: ``kind`` ``perp`` (of ``dex``, ``""`` the main one) or ``spot``."""

    kind: str
    dex: str = ""

    @property
    def spec(self) -> str:
        """The spelling in ``coins``."""
        if self.kind == "spot":
            return ALL_SPOT
        return f"{self.dex}{_SET_SUFFIX}" if self.dex else ALL_PERPS


def parse_spec(text: str) -> str | MarketSet:
    """One ``coins`` entry: a :class:`MarketSet`, or the coin name itself."""
    if text == ALL_PERPS:
        return MarketSet("perp")
    if text == ALL_SPOT:
        return MarketSet("spot")
    if text.endswith(_SET_SUFFIX):
        dex = text[: -len(_SET_SUFFIX)]
        if not dex or ":" in dex or "*" in dex or "/" in dex:
            raise ValueError(f"{text!r} is not a market set: use '*', 'spot:*' or 'DEX:*' with a HIP-3 dex name")
        return MarketSet("perp", dex)
    if "*" in text:
        raise ValueError(f"{text!r} is not a market set: use '*', 'spot:*' or 'DEX:*'")
    return text


def has_sets(specs: Iterable[str]) -> bool:
    """True when any entry is a set (resolving needs the exchange's metadata)."""
    return any(isinstance(parse_spec(s), MarketSet) for s in specs)


def dexes_of(specs: Iterable[str]) -> list[str]:
    """HIP-3 dexes whose ``meta`` the specs need (sets ``DEX:*`` and names ``DEX:COIN``)."""
    out: set[str] = set()
    for s in specs:
        parsed = parse_spec(s)
        if isinstance(parsed, MarketSet):
            if parsed.kind == "perp" and parsed.dex:
                out.add(parsed.dex)
        elif ":" in parsed:
            out.add(parsed.split(":", 1)[0])
    return sorted(out)


def perp_names(meta: Mapping[str, Any], dex: str = "") -> tuple[list[str], set[str]]:
    """Listed and delisted perp coin names of one ``meta`` answer (HIP-3 names get their ``dex:``)."""
    listed: list[str] = []
    delisted: set[str] = set()
    for entry in meta.get("universe", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        name = entry["name"]
        if dex and not name.startswith(f"{dex}:"):
            name = f"{dex}:{name}"
        if entry.get("isDelisted"):
            delisted.add(name)
        else:
            listed.append(name)
    return listed, delisted


def spot_names(spot_meta: Mapping[str, Any]) -> list[str]:
    """Spot pair coin names of one ``spotMeta`` answer, as subscriptions name them."""
    return [
        pair["name"]
        for pair in spot_meta.get("universe", [])
        if isinstance(pair, dict) and isinstance(pair.get("name"), str)
    ]


@dataclass(frozen=True, slots=True)
class Metadata:
    """What the exchange lists now: perps per dex (``""`` the main one), and spot pairs."""

    perps: Mapping[str, Sequence[str]] = field(default_factory=dict)
    delisted: frozenset[str] = frozenset()
    spot: Sequence[str] = ()
    #: HIP-3 dexes ``perpDexs`` names (``None``: not asked).
    dexes: frozenset[str] | None = None

    @classmethod
    def from_answers(
        cls,
        metas: Mapping[str, Mapping[str, Any]],
        spot_meta: Mapping[str, Any] | None,
        perp_dexs: Sequence[Any] | None = None,
    ) -> Metadata:
        """From the raw ``meta`` answers per dex, ``spotMeta`` and ``perpDexs``."""
        perps: dict[str, list[str]] = {}
        delisted: set[str] = set()
        for dex, meta in metas.items():
            perps[dex], gone = perp_names(meta, dex)
            delisted |= gone
        dexes = None
        if perp_dexs is not None:
            dexes = frozenset(d["name"] for d in perp_dexs if isinstance(d, dict) and isinstance(d.get("name"), str))
        return cls(perps, frozenset(delisted), spot_names(spot_meta or {}), dexes)


@dataclass(frozen=True, slots=True)
class Resolution:
    """Coins the specs name now, in the order of the specs; what each set gave; the problems."""

    coins: list[str]
    sets: dict[str, list[str]]
    #: Named coins the exchange marks delisted (followed all the same; nothing will come).
    delisted: list[str]
    #: Sets naming a HIP-3 dex the exchange does not list.
    unknown_dexes: list[str]


def resolve(specs: Sequence[str], meta: Metadata) -> Resolution:
    """The coins ``specs`` name in ``meta``: sets expanded (delisted perps left out), names kept."""
    coins: dict[str, None] = {}
    sets: dict[str, list[str]] = {}
    delisted: list[str] = []
    unknown: list[str] = []
    for s in specs:
        parsed = parse_spec(s)
        if isinstance(parsed, MarketSet):
            if parsed.kind == "spot":
                members = list(meta.spot)
            else:
                if parsed.dex and meta.dexes is not None and parsed.dex not in meta.dexes:
                    unknown.append(parsed.dex)
                members = list(meta.perps.get(parsed.dex, ()))
            sets[parsed.spec] = members
            coins.update(dict.fromkeys(members))
        else:
            if parsed in meta.delisted:
                delisted.append(parsed)
            coins[parsed] = None
    return Resolution(list(coins), sets, delisted, unknown)


class Retirement:
    """Markets leave only after ``after`` refreshes in a row without them (one odd answer retires nothing)."""

    def __init__(self, after: int = 2) -> None:
        self.after = after
        self._missing: dict[str, int] = {}

    def step(self, followed: Iterable[str], resolved: Iterable[str]) -> tuple[list[str], list[str]]:
        """``(to_add, to_retire)`` for this refresh, given the coins followed and the coins resolved now."""
        now = dict.fromkeys(resolved)
        current = dict.fromkeys(followed)
        to_add = [c for c in now if c not in current]
        to_retire: list[str] = []
        for coin in current:
            if coin in now:
                self._missing.pop(coin, None)
                continue
            seen = self._missing.get(coin, 0) + 1
            if seen >= self.after:
                self._missing.pop(coin, None)
                to_retire.append(coin)
            else:
                self._missing[coin] = seen
        for coin in list(self._missing):
            if coin not in current:
                del self._missing[coin]
        return to_add, to_retire
