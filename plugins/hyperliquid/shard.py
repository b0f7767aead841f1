"""Shares of the resolved markets when several daemons (several IPs) collect one exchange. Pure.

``shard = "k/n"`` in ``[sources.hyperliquid]`` (``1 <= k <= n``) makes a daemon follow only the
coins whose owner is shard ``k`` of ``n``; every interval of a coin stays on one daemon.

The owner is chosen by rendezvous (highest random weight) hashing: each shard ``j`` scores a
coin ``blake2b(f"{j}:{coin}")``, and the best score owns it. The hash is stable across
processes, hosts and Python versions (never Python's salted ``hash()``), so every daemon agrees
without talking to the others; a new listing lands on one shard and moves nothing else; and
going from ``n`` to ``n + 1`` shards moves only the coins the new shard wins (about
``1 / (n + 1)`` of them).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Shard", "owner"]

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def _score(shard: int, coin: str) -> int:
    digest = hashlib.blake2b(f"{shard}:{coin}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(coin: str, count: int) -> int:
    """The shard (1-based) of ``count`` that owns ``coin``."""
    return max(range(1, count + 1), key=lambda j: (_score(j, coin), -j))


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based); ``1/1`` follows everything."""

    index: int = 1
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"k/n"`` with ``1 <= k <= n``."""
        m = _SPEC.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a shard: write 'k/n', e.g. '2/3' (the second of three daemons)")
        index, count = int(m.group(1)), int(m.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f"{text!r} is not a shard: k must be between 1 and n, e.g. '1/3', '2/3', '3/3'")
        return cls(index, count)

    @property
    def spec(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, coin: str) -> bool:
        return self.count == 1 or owner(coin, self.count) == self.index

    def share(self, coins: Iterable[str]) -> list[str]:
        """The coins of this shard, in their order."""
        return [c for c in coins if self.owns(c)]
