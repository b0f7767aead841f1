"""Files freqtrade's data handlers read: its layout, names and formats, for Hyperliquid markets.

From freqtrade's source (``IDataHandler._pair_data_filename``, ``misc.pair_to_filename``,
``timeframe_to_file``, the json and feather handlers):

- a futures pair such as ``BTC/USDC:USDC`` (candle type ``futures``) lives in
  ``<datadir>/futures/BTC_USDC_USDC-1h-futures.<ext>``; a spot pair (no ``:``) in
  ``<datadir>/PURR_USDC-1h.<ext>``. ``/ . @ $ + :`` and spaces become ``_``.
- the monthly timeframe ``1M`` is written ``1Mo`` in file names (case-insensitive filesystems).
- json: one array of ``[open time ms, open, high, low, close, volume]`` rows, ascending;
  feather: an Arrow IPC file with columns ``date`` (timestamp ms, UTC) and ``open`` ..
  ``volume`` as float64, compressed with lz4 (needs pyarrow: ``pip install 'candlewick[feather]'``).

``<datadir>`` is freqtrade's ``user_data/data/hyperliquid``. Only closed candles are written:
freqtrade takes every row it loads as final. JSON numbers carry the exchange's decimal strings
digit for digit (freqtrade parses them as floats, as it does its own files); feather holds floats.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from candlewick.reading import CandleRow

__all__ = ["FREQTRADE_FORMATS", "default_pair", "pair_file", "write_feather", "write_json"]

FreqtradeFormat = Literal["json", "feather"]
FREQTRADE_FORMATS: tuple[FreqtradeFormat, ...] = ("json", "feather")
_UNSAFE = ("/", " ", ".", "@", "$", "+", ":")
_PRICES = ("open", "high", "low", "close", "volume")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


def default_pair(coin: str, quote: str = "USDC") -> str:
    """freqtrade's name of a Hyperliquid perpetual: ``BTC`` -> ``BTC/USDC:USDC``."""
    return f"{coin}/{quote}:{quote}"


def pair_to_filename(pair: str) -> str:
    """A pair as freqtrade spells it in file names: ``BTC/USDC:USDC`` -> ``BTC_USDC_USDC``."""
    for ch in _UNSAFE:
        pair = pair.replace(ch, "_")
    return pair


def pair_file(datadir: Path, pair: str, interval: str, fmt: FreqtradeFormat = "json") -> Path:
    """Where freqtrade looks for ``pair``'s candles of ``interval`` (futures when the pair has a settle ``:``)."""
    timeframe = interval.replace("M", "Mo")
    name = pair_to_filename(pair)
    if ":" in pair:
        return datadir / "futures" / f"{name}-{timeframe}-futures.{fmt}"
    return datadir / f"{name}-{timeframe}.{fmt}"


def json_number(text: str) -> str:
    """``text`` as a JSON number: the exchange's digits when they already are one (``.5``, ``5.``, ``1E+3`` are not)."""
    return text if _JSON_NUMBER.fullmatch(text) else format(Decimal(text), "f")


def json_rows(rows: Sequence[CandleRow]) -> str:
    """Rows of the json layout, comma-separated (no brackets), the exchange's digits kept."""
    n = json_number
    return ",".join([f"[{t},{n(o)},{n(h)},{n(lo)},{n(c)},{n(v)}]" for t, o, h, lo, c, v, *_ in rows])


async def write_json(out: IO[str], pages: AsyncIterable[Sequence[CandleRow]]) -> int:
    """Write ``[[ms, o, h, l, c, v], ...]`` page by page; returns the rows written."""
    out.write("[")
    rows = 0
    async for page in pages:
        if not page:
            continue
        out.write(("," if rows else "") + json_rows(page))
        rows += len(page)
    out.write("]")
    return rows


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.ipc
    except ImportError:
        raise ImportError("the freqtrade feather format needs pyarrow: pip install 'candlewick[feather]'") from None
    return pa


def check_feather() -> None:
    """Raise ``ImportError`` naming the extra when pyarrow is missing (before any file is opened)."""
    _pyarrow()


async def write_feather(out: IO[bytes], pages: AsyncIterable[Sequence[CandleRow]]) -> int:
    """Write freqtrade's feather layout one record batch per page; returns the rows written."""
    pa = _pyarrow()
    schema = pa.schema(
        [("date", pa.timestamp("ms", tz="UTC"))]
        + [(n, pa.float64()) for n in ("open", "high", "low", "close", "volume")]
    )
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    rows = 0
    with pa.ipc.new_file(out, schema, options=options) as writer:
        async for page in pages:
            if not page:
                continue
            columns = [
                pa.array([row[0] for row in page], type=pa.timestamp("ms", tz="UTC")),
                *(pa.array([float(row[i]) for row in page], type=pa.float64()) for i in range(1, 6)),
            ]
            writer.write_batch(pa.record_batch(columns, schema=schema))
            rows += len(page)
    return rows
