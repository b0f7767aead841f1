"""The Python API: read the configured store from a script or a notebook, synchronously.

::

    import candlewick

    with candlewick.open_store() as store:            # the config's sink; or open_store("my.toml")
        rows = store.candles("BTC", "1h", "2024-01-01", "2024-02-01")  # list of Candle
        df = store.frame("BTC", "1h", "2024-01-01")     # pandas DataFrame (pip install pandas)

Calls block; underneath, the sink's async reader runs on a private event loop in a thread of
its own (an anyio blocking portal), so this works in Jupyter, whose own loop is already running.
Times are ms since the epoch, ISO-8601 strings (UTC unless they name an offset) or aware
``datetime`` objects; ranges are ``[start, end)`` by open time. Prices stay exact: ``Candle``
fields are the exchange's decimal strings, ``frame`` turns them into ``Decimal`` by default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from candlewick.exporting.times import parse_time
from candlewick.gaps.daycoverage import DayCoverage
from candlewick.model import Candle, check_interval
from candlewick.readers import FOREVER, ledger_path, open_reader, read_coverage
from candlewick.reading import MAX_PAGE, CandleReader, StoredMarket

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CandleStore", "TimeLike", "open_store"]

TimeLike = int | str | dt.datetime
T = TypeVar("T")
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


def _ms(value: TimeLike | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value!r} has no timezone: give an aware datetime (e.g. tzinfo=datetime.UTC)")
        return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)
    if isinstance(value, int):
        return value
    return parse_time(value)


def open_store(config: str | Path | None = None, *, sink: str | None = None) -> CandleStore:
    """Open the store the config names (the usual search order when ``config`` is None).

    ``sink`` reads another configured sink than ``[sink] use``. Nothing connects until the
    first read; close the store (or use it in a ``with`` block) when done.
    """
    from candlewick.config import load_settings

    settings = load_settings(Path(config) if config is not None else None)
    name = sink or settings.sink.use
    reader = open_reader(settings, sink=name)
    return CandleStore(reader, ledger=ledger_path(settings, name, reader.target()))


class CandleStore:
    """Synchronous reads of one store; see :mod:`candlewick.api`."""

    def __init__(self, reader: CandleReader, *, ledger: Path | None = None) -> None:
        self.reader = reader
        self.ledger = ledger
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = start_blocking_portal("asyncio")
        self._portal: BlockingPortal | None = self._portal_cm.__enter__()

    def _call(self, func: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        if self._portal is None:
            raise RuntimeError("this store is closed")
        result: T = self._portal.call(func, *args)
        return result

    def candles(
        self,
        coin: str,
        interval: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        closed_only: bool = False,
    ) -> list[Candle]:
        """Every stored candle of a market with open time in ``[start, end)`` (default: all), oldest first."""
        check_interval(interval)
        a, b = _ms(start, 0), _ms(end, FOREVER)

        async def collect() -> list[Candle]:
            out: list[Candle] = []
            async for page in self.reader.stream(coin, interval, a, b, page_size=MAX_PAGE, closed_only=closed_only):
                out.extend(page)
            return out

        return self._call(collect)

    def newest(self, coin: str, interval: str, limit: int = 100) -> list[Candle]:
        """The newest ``limit`` candles of a market, oldest first."""
        return self._call(self.reader.newest, coin, check_interval(interval), limit)

    def markets(self) -> list[StoredMarket]:
        """Every stored market with its first and last open time and count."""
        return self._call(self.reader.markets)

    def coverage(
        self, coin: str, interval: str, start: TimeLike | None = None, end: TimeLike | None = None
    ) -> list[DayCoverage]:
        """Stored vs expected candles per UTC day, with the permanent losses gap repair recorded."""
        check_interval(interval)
        now = _ms(dt.datetime.now(dt.UTC), 0)
        a = None if start is None else _ms(start, 0)
        b = None if end is None else _ms(end, FOREVER)

        async def assess() -> list[DayCoverage]:
            return await read_coverage(self.reader, coin, interval, now, ledger=self.ledger, start=a, end=b)

        return self._call(assess)

    def frame(
        self,
        coin: str,
        interval: str,
        start: TimeLike | None = None,
        end: TimeLike | None = None,
        *,
        closed_only: bool = False,
        prices: Literal["decimal", "str", "float"] = "decimal",
    ) -> pd.DataFrame:
        """The candles as a pandas DataFrame indexed by open time (UTC).

        Columns ``open high low close volume`` hold ``Decimal`` objects (``prices="decimal"``,
        exact), the stored strings (``"str"``) or floats (``"float"``: lossy, for plotting);
        ``trades`` is int, ``closed`` bool. Needs pandas.
        """
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("CandleStore.frame needs pandas: pip install 'candlewick[pandas]'") from None
        rows = self.candles(coin, interval, start, end, closed_only=closed_only)
        convert: Callable[[str], object] = {"decimal": Decimal, "str": str, "float": float}[prices]
        data: dict[str, list[Any]] = {name: [convert(getattr(c, name)) for c in rows] for name in PRICE_COLUMNS}
        data["trades"] = [c.trades for c in rows]
        data["closed"] = [c.closed for c in rows]
        index = pd.to_datetime([c.open_time for c in rows], unit="ms", utc=True).rename("time")
        return pd.DataFrame(data, index=index)

    def close(self) -> None:
        """Close the reader's connections and the private event loop."""
        if self._portal is None or self._portal_cm is None:
            return
        try:
            self._portal.call(self.reader.aclose)
        finally:
            cm, self._portal, self._portal_cm = self._portal_cm, None, None
            cm.__exit__(None, None, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
