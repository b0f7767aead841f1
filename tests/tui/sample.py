"""A fixed dashboard state (no clocks) for snapshots and view tests."""

from __future__ import annotations

from typing import Any

from candlewick.tui import state as st

#: 2026-11-28 12:14:30 UTC
NOW = 1_795_868_070.0
STARTED = NOW - (3 * 86_400 + 4 * 3600 + 12 * 60 + 5)
MINUTE_MS = 60_000


def status() -> dict[str, Any]:
    return {
        "daemon": {
            "version": "0.1.0",
            "pid": 4242,
            "uptime": NOW - STARTED,
            "started_at": STARTED,
            "config_path": "/etc/candlewick/candlewick.toml",
            "backend": "asyncio",
            "socket": "/run/candlewick/control.sock",
            "health": "healthy",
        },
        "components": [
            _component("hyperliquid", "source", "running", 2, 11_460.0, "ws closed 1006"),
            _component("memory", "buffer", "running", 0, NOW - STARTED, None),
            _component("timescaledb", "sink", "backing_off", 5, None, "connection refused"),
            _component("control", "service", "running", 0, NOW - STARTED, None),
        ],
    }


def health() -> dict[str, Any]:
    def check(name: str, ok: bool, detail: str) -> dict[str, Any]:
        return {"name": name, "ok": ok, "detail": detail}

    return {
        "status": "degraded",
        "checks": [
            check("component:hyperliquid", True, "running"),
            check("component:memory", True, "running"),
            check("component:timescaledb", False, "backing_off: OSError: connection refused"),
            check("component:control", True, "running"),
            check("spool", True, "empty"),
            check("sink", False, "down; batches are spooled"),
            check("market:hyperliquid:BTC:1m", True, "last frame 0s ago"),
            check("market:hyperliquid:BTC:1h", True, "last frame 0s ago"),
            check("market:hyperliquid:ETH:1m", True, "last frame 0s ago"),
        ],
    }


def _component(
    name: str, kind: str, state: str, restarts: int, uptime: float | None, error: str | None
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "state": state,
        "restarts": restarts,
        "last_error": None if error is None else {"type": "OSError", "message": error, "time": NOW - 12},
        "uptime": uptime,
        "critical": kind != "service",
        "restart": "always",
    }


def stats(t: float, frames: dict[tuple[str, str], int]) -> dict[str, Any]:
    markets = []
    for (coin, interval), count in frames.items():
        last = int(NOW * 1000) // MINUTE_MS * MINUTE_MS if interval == "1m" else 1_795_867_200_000
        markets.append(
            {
                "coin": coin,
                "interval": interval,
                "source": "hyperliquid",
                "last_candle_time": last,
                "last_frame_time": t - 0.2,
                "lag": 0.2 if coin == "BTC" else 0.3,
                "frames": count,
                "candles": count // 20,
                "candles_today": count // 60,
                "gaps_found": 1 if coin == "ETH" else 0,
                "gaps_repaired": 0,
                "permanent_losses": 0,
            }
        )
    return {
        "time": t,
        "frames_in": sum(frames.values()),
        "candles_in": 9000,
        "malformed": 0,
        "reconnects": 2,
        "rows_written": 8000 + int(t - NOW) * 12,
        "permanent_losses": 0,
        "buffer": {"depth": 12, "capacity": 5000},
        "spool": {"batches": 0, "bytes": 0, "oldest_age": None},
        "rest": {"weight_used": 9840, "weight_last_minute": 240, "budget_per_minute": 1200},
        "sink": {"name": "timescaledb", "rows_written": 8000 + int(t - NOW) * 12, "write_latency": 0.003, "errors": 0},
        "markets": markets,
    }


RATES = {
    ("BTC", "1m"): [10, 12, 14, 17, 20, 16, 13, 14],
    ("BTC", "1h"): [2, 2, 3, 3, 4, 3, 2, 3],
    ("ETH", "1m"): [7, 9, 11, 13, 11, 9, 7, 10],
}


def jobs() -> dict[str, Any]:
    return {
        "jobs": [
            {"id": 7, "kind": "repair", "coin": "ETH", "interval": "1m", "start": 0, "end": 0, "state": "running",
             "fetched": 800, "expected": 1000, "eta": 12.0, "error": None},
            {"id": 6, "kind": "user", "coin": "BTC", "interval": "1h", "start": 0, "end": 0, "state": "done",
             "fetched": 720, "expected": 720, "eta": None, "error": None},
        ]
    }  # fmt: skip


def _event(seq: int, ago: float, kind: str, source: str, message: str) -> dict[str, Any]:
    return {"seq": seq, "time": NOW - ago, "kind": kind, "source": source, "message": message, "data": {}}


def events() -> list[dict[str, Any]]:
    return [
        _event(1, 40, "gap", "hyperliquid", "gap ETH 1m 12:05-12:09 → job #7"),
        _event(2, 12, "state", "timescaledb", "backing_off: connection refused"),
        _event(3, 2, "job", "backfill", "job #6 BTC 1h done (720 candles)"),
    ]


def sample_state(socket: str = "/run/candlewick/control.sock") -> st.DashboardState:
    """The wireframe's dashboard: three live markets, one sink backing off, a repair running."""
    state = st.attached(st.DashboardState(socket=socket))
    state = st.with_status(state, status())
    state = st.with_health(state, health())
    counts = dict.fromkeys(RATES, 1000)
    t = NOW - len(RATES[("BTC", "1m")])
    state = st.with_stats(state, stats(t, counts))
    for step in range(len(RATES[("BTC", "1m")])):
        t += 1
        counts = {key: counts[key] + RATES[key][step] for key in counts}
        state = st.with_stats(state, stats(t, counts))
    state = st.with_jobs(state, jobs())
    return st.with_events(state, events())


def candles(count: int = 36) -> dict[str, Any]:
    """A deterministic ``candles.recent`` answer: a gentle wave of 1m candles."""
    out = []
    price = 97_000.0
    start = int(NOW * 1000) // MINUTE_MS * MINUTE_MS - (count - 1) * MINUTE_MS
    for i in range(count):
        step = ((i * 37) % 11 - 5) * 9.5
        o, c = price, price + step
        out.append({
            "time": start + i * MINUTE_MS, "close_time": start + (i + 1) * MINUTE_MS - 1,
            "open": f"{o:.1f}", "high": f"{max(o, c) + 6 + i % 4:.1f}", "low": f"{min(o, c) - 5 - i % 3:.1f}",
            "close": f"{c:.1f}", "volume": "12.5", "trades": 40 + i, "closed": i < count - 1,
        })  # fmt: skip
        price = c
    return {"candles": out}
