"""Pieces of the soak run that need no daemon: /proc sampling, the database read-back, the
comparison with the exchange's truth, and the report.

Kept apart from ``soak.py`` (which drives processes and sockets) so each part stays small.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

#: A candle as compared: open, high, low, close, volume (exact decimals), trades.
Values = tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int]
Key = tuple[str, str, int]  # coin, interval, open time (ms)


# -- /proc ---------------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid} (a zombie?)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (utime + stime of /proc/<pid>/stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLOCK_TICKS


# -- samples -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One look at the daemon: wall time since start, /proc figures, counters from ``stats``."""

    elapsed: float
    phase: str
    rss: int
    cpu: float
    frames: int
    candles: int
    rows: int
    reconnects: int
    malformed: int
    gaps_found: int
    gaps_repaired: int
    permanent_losses: int
    spool_batches: int
    buffer_depth: int
    rest_weight: int

    @classmethod
    def of(cls, elapsed: float, phase: str, pid: int, stats: Mapping[str, Any]) -> Sample:
        markets = stats.get("markets", [])
        return cls(
            elapsed=elapsed,
            phase=phase,
            rss=rss_bytes(pid),
            cpu=cpu_seconds(pid),
            frames=int(stats.get("frames_in", 0)),
            candles=int(stats.get("candles_in", 0)),
            rows=int(stats.get("rows_written", 0)),
            reconnects=int(stats.get("reconnects", 0)),
            malformed=int(stats.get("malformed", 0)),
            gaps_found=sum(int(m.get("gaps_found", 0)) for m in markets),
            gaps_repaired=sum(int(m.get("gaps_repaired", 0)) for m in markets),
            permanent_losses=int(stats.get("permanent_losses", 0)),
            spool_batches=int(stats.get("spool", {}).get("batches", 0)),
            buffer_depth=int(stats.get("buffer", {}).get("depth", 0)),
            rest_weight=int(stats.get("rest", {}).get("weight_used", 0)),
        )


def rss_at(samples: Sequence[Sample], elapsed: float) -> int:
    """RSS of the first sample taken at or after ``elapsed`` seconds (the last one if none)."""
    for s in samples:
        if s.elapsed >= elapsed:
            return s.rss
    return samples[-1].rss


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute (0 with fewer than 2 points)."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return 60 * sum((x - mx) * (y - my) for x, y in points) / sxx


@dataclass(frozen=True)
class PhaseFigures:
    """Throughput and CPU cost over a stretch of samples."""

    name: str
    seconds: float
    frames: int
    rows: int
    cpu: float

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_frame(self) -> float | None:
        return 1e6 * self.cpu / self.frames if self.frames else None


def phase_figures(samples: Sequence[Sample], phase: str) -> PhaseFigures | None:
    """Figures between the last sample before ``phase`` began and its last sample."""
    idx = [i for i, s in enumerate(samples) if s.phase == phase]
    if not idx:
        return None
    first = samples[idx[0] - 1] if idx[0] > 0 else samples[idx[0]]
    last = samples[idx[-1]]
    return PhaseFigures(
        name=phase,
        seconds=last.elapsed - first.elapsed,
        frames=last.frames - first.frames,
        rows=last.rows - first.rows,
        cpu=last.cpu - first.cpu,
    )


# -- the database read back ----------------------------------------------------------------------


def values_of(o: Any, h: Any, lo: Any, c: Any, v: Any, n: Any) -> Values:
    return (Decimal(str(o)), Decimal(str(h)), Decimal(str(lo)), Decimal(str(c)), Decimal(str(v)), int(n))


def sqlite_rows(path: Path) -> dict[Key, tuple[Values, bool, tuple[str, ...]]]:
    """Every row of the SQLite ``candles`` table: values, closed flag, and the raw decimal strings."""
    out: dict[Key, tuple[Values, bool, tuple[str, ...]]] = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        query = 'SELECT coin, "interval", "time", open, high, low, close, volume, trades, closed FROM candles'
        for coin, iv, t, o, h, lo, c, v, n, closed in db.execute(query):
            out[(coin, iv, int(t))] = (values_of(o, h, lo, c, v, n), bool(closed), (o, h, lo, c, v))
    return out


async def postgres_rows(dsn: str) -> dict[Key, tuple[Values, bool, tuple[str, ...]]]:
    """Every row of the PostgreSQL ``candles`` table (numeric columns read back as text)."""
    import asyncpg

    out: dict[Key, tuple[Values, bool, tuple[str, ...]]] = {}
    conn = await asyncpg.connect(dsn)
    try:
        records = await conn.fetch(
            """SELECT coin, "interval", (extract(epoch FROM "time") * 1000)::bigint AS t,
                      open::text, high::text, low::text, close::text, volume::text, trades, closed
               FROM candles"""
        )
    finally:
        await conn.close()
    for r in records:
        raw = (r["open"], r["high"], r["low"], r["close"], r["volume"])
        out[(r["coin"], r["interval"], int(r["t"]))] = (values_of(*raw, r["trades"]), bool(r["closed"]), raw)
    return out


# -- against the truth ---------------------------------------------------------------------------


@dataclass
class Comparison:
    """The database against what the exchange served, over the keys that had to be there."""

    expected: int = 0
    present: int = 0
    equal: int = 0
    mismatches: list[str] = field(default_factory=list)
    missing: list[Key] = field(default_factory=list)
    not_closed: list[Key] = field(default_factory=list)
    stale: int = 0  # mismatches holding fewer trades than the exchange's final candle
    text_differs: int = 0  # equal as decimals but not as the exact strings sent
    extra: int = 0  # closed rows the exchange never served

    @property
    def completeness(self) -> float:
        return 100.0 * self.equal / self.expected if self.expected else 0.0


def compare(
    truth: Mapping[Key, tuple[Values, tuple[str, ...]]],
    rows: Mapping[Key, tuple[Values, bool, tuple[str, ...]]],
    *,
    exact_text: bool,
) -> Comparison:
    """Count, for each closed candle of ``truth``, whether the database holds it closed and equal."""
    result = Comparison(expected=len(truth))
    for key in sorted(truth):
        want, want_text = truth[key]
        got = rows.get(key)
        if got is None:
            result.missing.append(key)
            continue
        result.present += 1
        values, closed, text = got
        if not closed:
            result.not_closed.append(key)
        elif values != want:
            result.mismatches.append(f"{key}: database {values} != exchange {want}")
            result.stale += values[5] < want[5]
        else:
            result.equal += 1
            if exact_text and text != want_text:
                result.text_differs += 1
    bounds: dict[tuple[str, str], tuple[int, int]] = {}
    for coin, iv, t in truth:
        lo, hi = bounds.get((coin, iv), (t, t))
        bounds[(coin, iv)] = (min(lo, t), max(hi, t))
    for (coin, iv, t), (_values, closed, _text) in rows.items():
        span = bounds.get((coin, iv))
        if closed and span is not None and span[0] <= t <= span[1] and (coin, iv, t) not in truth:
            result.extra += 1
    return result


def ranges(keys: Iterable[Key], limit: int = 8) -> str:
    """Missing keys as a short list of ``coin interval first..last (n)`` runs."""
    runs: list[list[Key]] = []
    for key in sorted(keys):
        if runs and runs[-1][-1][:2] == key[:2]:
            runs[-1].append(key)
        else:
            runs.append([key])
    text = [f"{r[0][0]} {r[0][1]} {r[0][2]}..{r[-1][2]} ({len(r)})" for r in runs[:limit]]
    if len(runs) > limit:
        text.append(f"... {len(runs) - limit} more runs")
    return "; ".join(text)
