"""The ``[sources.hyperliquid]`` config section.

Public contract keys: ``ws_url``, ``rest_url``, ``coins`` (names and the market sets ``"*"``,
``"spot:*"``, ``"DEX:*"`` of :mod:`~candlewick.plugins.hyperliquid.universe`), ``intervals``,
``backfill_on_start``, ``rest_weight_per_minute``, ``universe_refresh``, ``shard``, ``derive``,
``derive_fallback_after``, ``reconcile_every``, ``reconcile_delay``. The others tune timings and
limits; their defaults follow the exchange reference (ping every 20 s, pong within 10 s, 1000
subscriptions per connection).
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from candlewick.model import DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS, check_interval
from candlewick.plugins.hyperliquid.derive_plan import IntervalPlan, plan_intervals, subscription_limit
from candlewick.plugins.hyperliquid.limits import MAX_SUBSCRIPTIONS
from candlewick.plugins.hyperliquid.shard import Shard
from candlewick.plugins.hyperliquid.universe import MarketSet, has_sets, parse_spec

__all__ = ["MAX_SUBSCRIPTIONS", "HyperliquidConfig", "parse_backfill"]
_DURATION = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNIT_MS = {"m": MINUTE_MS, "h": HOUR_MS, "d": DAY_MS, "w": WEEK_MS}


def parse_backfill(value: str) -> int | str | None:
    """``"max"`` stays ``"max"``, ``"none"`` is ``None``, a duration like ``"7d"`` becomes ms."""
    v = value.strip().lower()
    if v in ("max", "none"):
        return None if v == "none" else "max"
    m = _DURATION.match(v)
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"{value!r} is not 'max', 'none' or a duration like '90m', '12h', '7d', '2w'")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


class HyperliquidConfig(BaseModel):
    """Options of the Hyperliquid live source."""

    model_config = ConfigDict(extra="forbid", validate_default=True, use_attribute_docstrings=True)

    ws_url: str = "wss://api.hyperliquid.xyz/ws"
    """Websocket endpoint (``ws://`` or ``wss://``); ``candlewick simulate`` prints a local one."""
    rest_url: str = "https://api.hyperliquid.xyz"
    """REST base URL; requests go to ``<rest_url>/info``."""
    coins: list[str] = Field(default_factory=lambda: ["BTC"])
    """Coins as the exchange names them: perps as in ``meta`` (``BTC``, ``xyz:XYZ100``), spot as ``@N``
    or ``PURR/USDC``; and sets: ``"*"`` every perp of the main dex, ``"spot:*"`` every spot pair,
    ``"DEX:*"`` every perp of the HIP-3 dex ``DEX``. Names and sets mix: ``["*", "PURR/USDC"]``."""
    universe_refresh: float = Field(default=120.0, gt=0)
    """Seconds between looks at ``meta``/``spotMeta`` when ``coins`` has sets: new listings are
    subscribed, markets delisted (or gone) in two looks in a row are retired (their history stays)."""
    shard: str = "1/1"
    """This daemon's share ``k/n`` of the resolved coins when ``n`` daemons (on ``n`` IPs) collect
    together: a stable hash of each coin picks its daemon, so adding a coin moves no other."""
    startup_history: Literal["auto", "live", "jobs"] = "auto"
    """Who fetches ``backfill_on_start``: ``live`` the source on its first connect, ``jobs`` gap
    repair's durable jobs (shortest horizon first, resumed after a restart, with an ETA in
    ``backfill.list``); ``auto`` picks ``jobs`` above 50 markets."""
    intervals: list[str] = Field(default_factory=lambda: ["1m", "1h"])
    """Candle intervals to follow for every coin (1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 8h, 12h, 1d, 3d, 1w, 1M)."""
    backfill_on_start: str = "max"
    """History fetched over REST at start: ``max`` (the newest 5000 candles the exchange keeps),
    a duration such as ``7d``/``12h``, or ``none``."""
    rest_weight_per_minute: int = Field(default=1200, gt=0)
    """REST weight budget per minute shared by every REST caller of this daemon (the exchange allows 1200 per IP)."""
    ca_file: str | None = None
    """PEM file of extra certificate authorities to trust for wss:// and https:// (a TLS-inspecting
    proxy, or a fake exchange with TLS); the system's authorities stay trusted."""
    validate_coins: bool = True
    """Check the coins against ``meta``/``spotMeta`` at start-up and refuse unknown ones."""
    close_grace: float = Field(default=3.0, ge=0)
    """Seconds after a candle's close time ``T`` before a candle without a successor is declared closed."""
    confirm_closed: bool | Literal["auto", "evidence"] = "auto"
    """Fetch candles the websocket closed once more over REST and keep the exchange's final
    version (the last update before a candle's end can be missed): ``true`` every close,
    ``evidence`` only closes the websocket gave no evidence for (closed by the clock, around a
    disconnect, or touched by a late frame), ``auto`` every close while that costs at most a
    quarter of the REST budget, else ``evidence``; ``false`` none."""
    confirm_delay: float = Field(default=10.0, gt=0)
    """Seconds after a candle's close before it is confirmed (and how often confirmations run)."""
    ping_interval: float = Field(default=20.0, gt=0)
    """Seconds between application pings (the server drops connections silent for 60 s)."""
    pong_timeout: float = Field(default=10.0, gt=0)
    """Reconnect when neither a pong nor any other frame arrives this many seconds after a ping."""
    read_interval: float = Field(default=0.1, ge=0, le=1.0)
    """Shortest time in seconds between two reads of a websocket: frames that arrive meanwhile are
    handled together, at a fraction of the CPU per frame (a read costs about as much as 30 frames).
    The added latency is at most this, a tenth of the buffer's flush interval. 0 reads as soon
    as data arrives."""
    open_timeout: float = Field(default=10.0, gt=0)
    """Seconds allowed for TCP, TLS and the websocket handshake."""
    reconnect_initial: float = Field(default=1.0, gt=0)
    """First reconnect backoff ceiling in seconds (full jitter: the delay is uniform in [0, ceiling])."""
    reconnect_max: float = Field(default=60.0, gt=0)
    """Largest reconnect backoff ceiling, seconds."""
    reconnect_unreachable_max: float = Field(default=5.0, gt=0)
    """Backoff ceiling, seconds, of websocket reconnects and REST retries while the exchange gives no
    answer at all (no TCP connection, or the connection closes before any HTTP response)."""
    healthy_after: float = Field(default=60.0, ge=0)
    """A connection that stayed up this long resets the reconnect backoff."""
    rest_timeout: float = Field(default=15.0, gt=0)
    """Seconds allowed for one REST request."""
    rest_retries: int = Field(default=6, ge=0)
    """Retries of one REST request after a 429, a 5xx, a timeout or a dropped connection."""
    rest_backoff_initial: float = Field(default=2.0, gt=0)
    """First REST retry delay ceiling in seconds; it doubles per retry up to 60 s."""
    max_subscriptions_per_connection: int = Field(default=MAX_SUBSCRIPTIONS, gt=0, le=MAX_SUBSCRIPTIONS)
    """Subscriptions per websocket connection; more markets open another connection."""
    derive: list[str] = Field(default_factory=list)
    """Intervals folded from each coin's 1m candles instead of subscribed (``["3m", "5m"]``; every
    interval but 1m, which must then be in ``intervals``). When coins x subscribed intervals would
    exceed the per-IP limit of 1000 subscriptions, more intervals are derived, shortest first, and
    the start-up log says which. Derived candles are reconciled with the exchange's own."""
    derive_fallback_after: int = Field(default=3, ge=0)
    """Derived candles of one coin and interval that differ from the exchange's in a row before that
    market is subscribed natively instead (while the subscription limit allows); 0: never."""
    reconcile_every: float = Field(default=300.0, gt=0)
    """Seconds between reconciliation rounds: each derived market with closed candles due is fetched
    with one ``candleSnapshot`` request covering all of them, while the REST budget is over half full."""
    reconcile_delay: float = Field(default=30.0, ge=0)
    """Seconds after a derived candle closes before it is compared with the exchange's candle."""

    @field_validator("ws_url")
    @classmethod
    def _ws_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"{v!r} is not a ws:// or wss:// URL")
        return v

    @field_validator("rest_url")
    @classmethod
    def _rest_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} is not an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("coins")
    @classmethod
    def _coins(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for coin in v:
            if not coin or coin != coin.strip():
                raise ValueError(f"{coin!r} is not a coin name (empty or surrounding spaces)")
            parse_spec(coin)
            if coin not in out:
                out.append(coin)
        if not out:
            raise ValueError('list at least one coin, e.g. coins = ["BTC"]')
        return out

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: str) -> str:
        return Shard.parse(v).spec

    @field_validator("intervals")
    @classmethod
    def _intervals(cls, v: list[str]) -> list[str]:
        out: list[str] = []
        for interval in v:
            check_interval(interval)
            if interval not in out:
                out.append(interval)
        if not out:
            raise ValueError('list at least one interval, e.g. intervals = ["1m"]')
        return out

    @field_validator("derive")
    @classmethod
    def _derive(cls, v: list[str]) -> list[str]:
        for interval in v:
            check_interval(interval)
            if interval == "1m":
                raise ValueError("1m cannot be derived: the other intervals are folded from it")
        return list(dict.fromkeys(v))

    @model_validator(mode="after")
    def _derive_within_intervals(self) -> HyperliquidConfig:
        missing = [i for i in self.derive if i not in self.intervals]
        if missing:
            raise ValueError(f"derive lists {', '.join(missing)}, which intervals does not: add them to intervals")
        if self.derive and "1m" not in self.intervals:
            raise ValueError('derived intervals are folded from 1m candles: add "1m" to intervals')
        if not self.has_sets():
            self.interval_plan()  # limits that no split of native and derived intervals can keep fail here
        return self

    def interval_plan(self, coins: int | None = None) -> IntervalPlan:
        """Native and derived intervals for ``coins`` coins (default: the named ones of this shard;
        with market sets the source plans again once they are resolved) within the limits."""
        count = len(self.shard_of().share(self.named_coins())) if coins is None else coins
        limit = subscription_limit(self.max_subscriptions_per_connection)
        return plan_intervals(count, self.intervals, self.derive, limit=limit)

    @field_validator("backfill_on_start")
    @classmethod
    def _backfill(cls, v: str) -> str:
        parse_backfill(v)
        return v.strip().lower()

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).expanduser().is_file():
            raise ValueError(f"{v!r} is not a readable file")
        return str(Path(v).expanduser()) if v is not None else None

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS client context: system authorities plus ``ca_file``."""
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context

    def markets(self) -> list[tuple[str, str]]:
        """Every (coin, interval) pair of the coins named outright (sets need the exchange: see
        :mod:`~candlewick.plugins.hyperliquid.universe`), within this daemon's shard."""
        shard = self.shard_of()
        return [(c, i) for c in self.named_coins() if shard.owns(c) for i in self.intervals]

    def named_coins(self) -> list[str]:
        """The coins named outright (not sets)."""
        return [c for c in self.coins if not isinstance(parse_spec(c), MarketSet)]

    def has_sets(self) -> bool:
        return has_sets(self.coins)

    def shard_of(self) -> Shard:
        return Shard.parse(self.shard)

    def backfill(self) -> int | str | None:
        """``"max"``, a window in ms, or ``None`` for no start-up backfill."""
        return parse_backfill(self.backfill_on_start)
