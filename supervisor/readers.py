"""Opening a sink's read side from the config alone, and coverage reports over it.

``candlewick export`` and the Python API read the configured store without a running daemon:
:func:`open_reader` validates the sink's section with the sink plugin's own model and calls
its :attr:`~candlewick.plugin.ComponentSpec.reader` factory. Inside the daemon,
``Sink.reader()`` gives the same kind of reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from candlewick.config import validate_section
from candlewick.errors import ConfigError
from candlewick.gaps.daycoverage import DayCoverage, day_coverage
from candlewick.gaps.store import read_spans, state_filename
from candlewick.plugin import state_key
from candlewick.reading import FOREVER, CandleReader

if TYPE_CHECKING:
    from candlewick.config import Settings
    from candlewick.pluginmanager import PluginHooks

__all__ = ["FOREVER", "first_open", "ledger_path", "open_reader", "read_coverage"]


def open_reader(settings: Settings, *, sink: str | None = None, hooks: PluginHooks | None = None) -> CandleReader:
    """A reader of the sink ``settings`` configure (or the sink named ``sink``), not connected yet.

    Raises :class:`ConfigError` for an unknown sink, a bad section, or a sink without a read side.
    """
    if hooks is None:
        from candlewick.pluginmanager import build_plugin_manager

        hooks = build_plugin_manager()
    name = sink or settings.sink.use
    spec = hooks.spec("sink", name)
    if spec.reader is None:
        raise ConfigError(
            f"the sink {name!r} offers no reader without the daemon",
            hint="read through the running daemon (candlewick ctl candles.recent) or upgrade the plugin",
        )
    raw = settings.sink.plugin_options(name)
    config: Any = validate_section(spec.config_model, raw, prefix=f"sink.{name}") if spec.config_model else raw
    return spec.reader(config)


def ledger_path(settings: Settings, sink: str, target: str) -> Path:
    """The gap-repair ledger of sink ``sink`` at ``target``: a configured ``state_file`` or the default name."""
    data_dir = settings.daemon.data_path()
    for name, table in settings.sources.items():
        if name.endswith("-backfill") and isinstance(table, dict) and isinstance(table.get("state_file"), str):
            return data_dir / str(table["state_file"])
    return data_dir / state_filename(state_key(sink, target))


async def first_open(reader: CandleReader, coin: str, interval: str) -> int | None:
    """Open time of the oldest stored candle of a market, or None."""
    page = await reader.candles(coin, interval, 0, FOREVER, 1)
    return page.candles[0].open_time if page.candles else None


async def read_coverage(
    reader: CandleReader,
    coin: str,
    interval: str,
    now: int,
    *,
    ledger: Path | None = None,
    start: int | None = None,
    end: int | None = None,
) -> list[DayCoverage]:
    """Coverage per UTC day from ``start`` (default: the oldest stored candle) to ``end`` (default: now).

    Losses and confirmed-empty spans come from the gap-repair ``ledger`` file when given.
    """
    if start is None:
        start = await first_open(reader, coin, interval)
        if start is None:
            return []
    stop = now + 1 if end is None else end
    counts = await reader.day_counts(coin, interval, start, stop)
    spans = await anyio.to_thread.run_sync(read_spans, ledger, coin, interval) if ledger is not None else {}
    return day_coverage(interval, counts, start, stop, now, lost=spans.get("lost", ()), empty=spans.get("empty", ()))
