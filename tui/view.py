"""Pure rendering: turn a :class:`~candlewick.tui.state.DashboardState` into Rich text and cells.

Colour always comes with a symbol and a word, so a colour-less SSH terminal and a
colour-blind operator read the same thing. Times are shown in UTC, like candle times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text

from candlewick.control.schema import EventKind
from candlewick.tui.state import ComponentView, DashboardState, Event, Job, MarketView

DASH = "-"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
BAR_FULL, BAR_EMPTY = "█", "░"
#: A live market whose last frame is older than this is shown as stalled.
STALL_AFTER = 60.0
#: The header shows the local clock's offset from the exchange's from this much on (ms).
CLOCK_NOTABLE_MS = 1000.0

#: component state -> (symbol, style)
STATE_BADGES: dict[str, tuple[str, str]] = {
    "starting": ("◌", "cyan"),
    "running": ("●", "green"),
    "backing_off": ("◐", "yellow"),
    "stopping": ("◑", "yellow"),
    "stopped": ("○", "dim"),
    "failed": ("✖", "bold red"),
}
HEALTH_BADGES: dict[str, tuple[str, str]] = {
    "healthy": ("●", "green"),
    "degraded": ("◐", "yellow"),
    "failing": ("✖", "bold red"),
}
JOB_STYLES: dict[str, str] = {
    "queued": "dim",
    "running": "cyan",
    "done": "green",
    "failed": "bold red",
    "cancelled": "yellow",
}
#: The colour of an event's source by kind (the kinds are the daemon's; others are bold).
EVENT_STYLES: dict[str, str] = {
    EventKind.STATE: "cyan",
    EventKind.CONNECTED: "green",
    EventKind.DISCONNECTED: "yellow",
    EventKind.GAP_FOUND: "yellow",
    EventKind.GAP_REPAIRED: "green",
    EventKind.GAP_LOST: "bold red",
    EventKind.JOB: "blue",
    EventKind.SPOOL: "yellow",
    EventKind.SHUTDOWN: "magenta",
}


# -- numbers ----------------------------------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    """``3d 04:12`` for days, ``1:02:03`` below a day."""
    if seconds is None:
        return DASH
    total = int(max(0.0, seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}"
    return f"{hours}:{minutes:02d}:{secs:02d}"


def fmt_eta(seconds: float | None) -> str:
    """A short ETA: ``45s``, ``12m``, ``3h05``."""
    if seconds is None:
        return ""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}"
    return f"{s // 3600}h{s % 3600 // 60:02d}"


def fmt_clock(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).strftime("%H:%M:%S")


def fmt_candle_time(open_ms: int | None, now_s: float | None) -> str:
    """``HH:MM`` for a candle of today (UTC), ``MM-DD HH:MM`` otherwise."""
    if open_ms is None:
        return DASH
    when = dt.datetime.fromtimestamp(open_ms / 1000, tz=dt.UTC)
    if now_s is not None and when.date() == dt.datetime.fromtimestamp(now_s, tz=dt.UTC).date():
        return when.strftime("%H:%M")
    return when.strftime("%m-%d %H:%M")


def fmt_lag(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} m"
    return f"{seconds / 3600:.0f} h"


def fmt_count(n: float) -> str:
    """``950``, ``1.2k``, ``3.4M``."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            return f"{n / limit:.1f}{suffix}"
    return f"{n:.0f}" if float(n).is_integer() else f"{n:.1f}"


def fmt_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def sparkline(values: Sequence[float], width: int = 8) -> str:
    """The last ``width`` values as block characters, from zero to their maximum.

    Zero-based on purpose: a steady feed reads as full bars and a stall drops to the floor,
    where a min-to-max scale would turn jitter of a few percent into alarming swings.
    """
    tail = list(values)[-width:]
    if not tail:
        return " " * width
    top = max(tail)
    last = len(SPARK_BLOCKS) - 1
    if top <= 0:
        cells = SPARK_BLOCKS[0] * len(tail)
    else:
        cells = "".join(SPARK_BLOCKS[round(max(0.0, v) / top * last)] for v in tail)
    return cells.rjust(width)


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``width`` cells, filled to ``fraction`` (clamped to 0..1)."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


# -- badges -----------------------------------------------------------------------------------


def state_badge(state: str) -> Text:
    symbol, style = STATE_BADGES.get(state, ("?", "magenta"))
    return Text(f"{symbol} {state}", style=style)


def health_badge(health: str) -> Text:
    if not health:
        return Text("? unknown", style="dim")
    symbol, style = HEALTH_BADGES.get(health, ("?", "magenta"))
    return Text(f"{symbol} {health}", style=style)


# -- panes ------------------------------------------------------------------------------------


def header(state: DashboardState) -> Text:
    """The top line: version, uptime, health, link."""
    socket = state.socket.rsplit("/", 1)[-1] or state.socket
    text = Text(" candlewick", style="bold")
    if state.daemon.version:
        text.append(f" {state.daemon.version}")
    if state.link == "attached":
        text.append(f" · up {fmt_duration(state.uptime)} · ")
        text.append_text(health_badge(state.health))
        if state.silent_for is not None:
            text.append(f" · ⚠ no stats for {state.silent_for:.0f} s", style="bold yellow")
        clock = clock_note(state)
        if clock is not None:
            text.append(" · ")
            text.append_text(clock)
    elif state.link == "detached":
        text.append(" · ")
        text.append("✖ detached", style="bold red")
    else:
        text.append(" · ")
        text.append("◌ connecting", style="cyan")
    text.append(f" · {socket}", style="dim")
    return text


def clock_note(state: DashboardState) -> Text | None:
    """``⚠ clock +120.0 s`` past the daemon's ``max_clock_offset``, dim from a second on, else nothing."""
    stats = state.stats
    if stats is None or stats.clock_offset_ms is None or abs(stats.clock_offset_ms) < CLOCK_NOTABLE_MS:
        return None
    offset = f"clock {stats.clock_offset_ms / 1000:+.1f} s"
    return Text(offset, style="dim") if stats.clock_ok else Text(f"⚠ {offset}", style="bold yellow")


def component_cells(c: ComponentView) -> tuple[str | Text, ...]:
    name = Text(c.name, style="bold") if c.critical else Text(c.name)
    uptime = fmt_duration(c.uptime) if c.state == "running" else DASH
    return (
        name,
        c.kind,
        state_badge(c.state),
        Text(str(c.restarts), justify="right"),
        uptime,
        Text(c.last_error, "red"),
    )


def lag_text(m: MarketView) -> Text:
    if m.lag is None:
        return Text(DASH, style="dim")
    if m.lag >= STALL_AFTER:
        return Text(f"⚠ {fmt_lag(m.lag)}", style="bold red")
    return Text(fmt_lag(m.lag))


def market_cells(m: MarketView, rates: Sequence[float], now_s: float | None) -> tuple[str | Text, ...]:
    rate = rates[-1] if rates else None
    spark = Text(sparkline(rates), style="green")
    spark.append(f" {DASH if rate is None else fmt_count(rate):>5}", style="default")
    gaps = Text(str(m.gaps_repaired), justify="right")
    if m.gaps_found > m.gaps_repaired:
        gaps.append(f" ⟳{m.gaps_found - m.gaps_repaired}", style="yellow")
    lost = Text(str(m.permanent_losses), justify="right", style="bold red" if m.permanent_losses else "")
    return (
        m.coin,
        interval_text(m),
        fmt_candle_time(m.last_candle_time, now_s),
        lag_text(m),
        spark,
        Text(fmt_count(m.candles_today), justify="right"),
        gaps,
        lost,
    )


def interval_text(m: MarketView) -> str | Text:
    """The interval, marked ``∂`` when derived from 1m candles and ``≠n`` after mismatches."""
    if not m.derived and not m.derived_mismatches:
        return m.interval
    text = Text(m.interval)
    if m.derived:
        text.append(" ∂", style="cyan")
    if m.derived_mismatches:
        text.append(f" ≠{m.derived_mismatches}", style="bold yellow")
    return text


def gauges(state: DashboardState) -> Text:
    """One line: buffer fill, spool, sink throughput, REST weight budget."""
    s = state.stats
    text = Text(" ")
    if s is None:
        return text.append("waiting for stats…", style="dim")
    buffer, spool, rest = s.buffer, s.spool, s.rest
    fill = buffer.depth / buffer.capacity if buffer.capacity else 0.0
    text.append("buffer ")
    text.append(bar(fill, 4), style="red" if fill > 0.8 else "green")
    text.append(f" {buffer.depth}/{buffer.capacity}")
    text.append(" · spool ")
    text.append(fmt_bytes(spool.bytes), style="yellow" if spool.bytes else "")
    if spool.batches:
        text.append(f" ({spool.batches})", style="yellow")
    text.append(f" · sink {fmt_count(state.sink_rate or 0.0)} rows/s")
    if s.sink.errors:
        text.append(f" ✖{s.sink.errors}", style="red")
    used = rest.weight_last_minute / rest.budget_per_minute if rest.budget_per_minute else 0.0
    text.append(" · REST ")
    text.append(bar(used, 4), style="red" if used > 0.8 else "blue")
    text.append(f" {rest.weight_last_minute}/{rest.budget_per_minute}/min")
    return text


def job_cells(job: Job) -> tuple[str | Text, ...]:
    style = JOB_STYLES.get(job.state, "")
    progress = job.progress
    if job.state == "running" and progress is not None:
        status = Text(bar(progress, 5), style=style)
        status.append(f"{progress * 100:4.0f}%", style="default")
    else:
        status = Text(job.state, style=style)
    market = f"{job.coin} {job.interval}".strip()
    return (f"#{job.id}", job.kind, market, status, fmt_eta(job.eta) if job.state in ("running", "queued") else "")


def event_text(event: Event) -> Text:
    text = Text(fmt_clock(event.time), style="dim")
    text.append(" ")
    text.append(event.source, style=EVENT_STYLES.get(event.kind, "bold"))
    # Most messages already start with their source ("sqlite running"): say it once.
    text.append(f" {event.message.removeprefix(event.source + ' ')}")
    return text


def detail_line(m: MarketView | None, now_s: float | None) -> Text:
    """The line above a market's chart: last candle, lag, frames, gaps, losses."""
    if m is None:
        return Text(" no live numbers for this market", style="dim")
    text = Text(f" last {fmt_candle_time(m.last_candle_time, now_s)} · lag ")
    text.append_text(lag_text(m))
    text.append(
        f" · {fmt_count(m.frames)} frames · {fmt_count(m.candles_today)} candles today"
        f" · gaps {m.gaps_repaired}/{m.gaps_found} fixed · lost {m.permanent_losses}"
    )
    if m.derived or m.derived_checked:
        text.append(
            f" · {'derived' if m.derived else 'native (was derived)'}: {m.derived_checked} checked, "
            f"{m.derived_mismatches} differed",
            style="yellow" if m.derived_mismatches else "cyan",
        )
    return text
