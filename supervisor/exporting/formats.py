"""CSV and NDJSON encoders: pages of candles in, chunks of bytes out, one page in memory at a time.

Both formats carry the columns ``time,open,high,low,close,volume,trades,closed`` (a public
contract) or a chosen subset, in that order or the order asked:

- ``time`` is the candle's open time in ms since the epoch (UTC);
- ``open`` .. ``volume`` are the decimal strings exactly as the exchange sent them (CSV: bare;
  NDJSON: JSON strings, so no parser rounds them through a float);
- ``trades`` is an integer; ``closed`` is ``true`` or ``false`` (in CSV as those words).

CSV lines end in ``\\n`` and need no quoting (no field holds a comma or a quote).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from typing import Any, ClassVar

import msgspec

from candlewick.model import Candle

__all__ = ["COLUMNS", "FORMATS", "CsvFormat", "Format", "NdjsonFormat", "check_columns", "encode"]

#: Every column, in the default order.
COLUMNS: tuple[str, ...] = ("time", "open", "high", "low", "close", "volume", "trades", "closed")

_FIELD = {
    "time": "open_time", "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "volume", "trades": "trades", "closed": "closed",
}  # fmt: skip


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """``columns`` if each is one of :data:`COLUMNS` and none repeats, else ``ValueError`` naming the allowed ones."""
    wanted = tuple(columns)
    unknown = [c for c in wanted if c not in _FIELD]
    if unknown or not wanted or len(set(wanted)) != len(wanted):
        raise ValueError(
            f"columns must be distinct names out of {','.join(COLUMNS)}; got {','.join(wanted) or '(none)'}"
        )
    return wanted


class Format(ABC):
    """One export format: a header, rows, and the media type an HTTP answer names."""

    name: ClassVar[str]
    media_type: ClassVar[str]
    extension: ClassVar[str]

    def __init__(self, columns: Sequence[str] = COLUMNS) -> None:
        self.columns = check_columns(columns)

    def header(self) -> bytes:
        """Bytes before the first row."""
        return b""

    @abstractmethod
    def rows(self, candles: Sequence[Candle]) -> bytes:
        """The rows of ``candles``, each ending in a newline."""


class CsvFormat(Format):
    """``text/csv`` with a header line; ``closed`` as ``true``/``false``."""

    name = "csv"
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def header(self) -> bytes:
        return (",".join(self.columns) + "\n").encode()

    def rows(self, candles: Sequence[Candle]) -> bytes:
        if self.columns == COLUMNS:  # the common case, without the per-field lookups
            return "".join(
                f"{c.open_time},{c.open},{c.high},{c.low},{c.close},{c.volume},{c.trades},"
                f"{'true' if c.closed else 'false'}\n"
                for c in candles
            ).encode()
        fields = [_FIELD[name] for name in self.columns]
        return "".join(",".join(_text(getattr(c, f)) for f in fields) + "\n" for c in candles).encode()


class NdjsonFormat(Format):
    """``application/x-ndjson``: one JSON object a line, decimals as strings."""

    name = "ndjson"
    media_type = "application/x-ndjson"
    extension = "ndjson"
    _encoder = msgspec.json.Encoder()

    def rows(self, candles: Sequence[Candle]) -> bytes:
        fields = [(name, _FIELD[name]) for name in self.columns]
        objects: list[dict[str, Any]] = [{name: getattr(c, f) for name, f in fields} for c in candles]
        return self._encoder.encode_lines(objects)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: Formats by name.
FORMATS: dict[str, type[Format]] = {f.name: f for f in (CsvFormat, NdjsonFormat)}


async def encode(fmt: Format, pages: AsyncIterable[Sequence[Candle]]) -> AsyncIterator[bytes]:
    """The header, then one chunk of bytes per non-empty page (e.g. :meth:`CandleReader.stream`)."""
    head = fmt.header()
    if head:
        yield head
    async for page in pages:
        if page:
            yield fmt.rows(page)
