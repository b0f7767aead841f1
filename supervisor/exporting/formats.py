"""CSV and NDJSON encoders: pages of candles in, chunks of bytes out, one page in memory at a time.

Both formats carry the columns ``time,open,high,low,close,volume,trades,closed`` (a public
contract) or a chosen subset, in that order or the order asked:

- ``time`` is the candle's open time in ms since the epoch (UTC);
- ``open`` .. ``volume`` are the decimal strings exactly as the exchange sent them (CSV: bare;
  NDJSON: JSON strings, so no parser rounds them through a float);
- ``trades`` is an integer; ``closed`` is ``true`` or ``false`` (in CSV as those words).

CSV lines end in ``\\n`` and need no quoting (no field holds a comma or a quote). Encoders take
the reader's rows (:data:`~candlewick.reading.CandleRow` tuples) as they come, no objects between.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from operator import itemgetter
from typing import Any, ClassVar

import msgspec

from candlewick.reading import EXPORT_COLUMNS, ROW_COLUMNS, CandleRow

__all__ = ["COLUMNS", "FORMATS", "CsvFormat", "Format", "NdjsonFormat", "check_columns", "encode", "picker"]

#: The default columns, in order (the CSV header); ``derived`` is there when asked for.
COLUMNS: tuple[str, ...] = EXPORT_COLUMNS

_INDEX = {name: i for i, name in enumerate(ROW_COLUMNS)}
#: ``closed`` as CSV writes it, indexed by the bool.
_BOOL = ("false", "true")


def check_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """``columns`` if each is a row column and none repeats, else ``ValueError`` naming the allowed ones."""
    wanted = tuple(columns)
    unknown = [c for c in wanted if c not in _INDEX]
    if unknown or not wanted or len(set(wanted)) != len(wanted):
        raise ValueError(
            f"columns must be distinct names out of {','.join(ROW_COLUMNS)}; got {','.join(wanted) or '(none)'}"
        )
    return wanted


def picker(columns: Sequence[str]) -> Callable[[CandleRow], tuple[Any, ...]]:
    """A function taking the values of ``columns`` (checked names) out of a row, as a tuple."""
    indexes = [_INDEX[name] for name in columns]
    if len(indexes) == 1:
        (index,) = indexes
        return lambda row: (row[index],)
    return itemgetter(*indexes)


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
    def rows(self, rows: Sequence[CandleRow]) -> bytes:
        """The lines of ``rows``, each ending in a newline."""


class CsvFormat(Format):
    """``text/csv`` with a header line; ``closed`` as ``true``/``false``."""

    name = "csv"
    media_type = "text/csv; charset=utf-8"
    extension = "csv"

    def header(self) -> bytes:
        return (",".join(self.columns) + "\n").encode()

    def rows(self, rows: Sequence[CandleRow]) -> bytes:
        b = _BOOL
        if self.columns == COLUMNS:  # the common case, one f-string a row
            return "".join([f"{t},{o},{h},{lo},{c},{v},{n},{b[x]}\n" for t, o, h, lo, c, v, n, x, _ in rows]).encode()
        pick = picker(self.columns)
        return "".join([",".join(map(_text, pick(row))) + "\n" for row in rows]).encode()


class NdjsonFormat(Format):
    """``application/x-ndjson``: one JSON object a line, decimals as strings."""

    name = "ndjson"
    media_type = "application/x-ndjson"
    extension = "ndjson"
    _encoder = msgspec.json.Encoder()

    def rows(self, rows: Sequence[CandleRow]) -> bytes:
        names = self.columns
        if names == COLUMNS:
            objects: list[dict[str, Any]] = [dict(zip(names, row, strict=False)) for row in rows]  # derived left out
        else:
            pick = picker(names)
            objects = [dict(zip(names, pick(row), strict=True)) for row in rows]
        return self._encoder.encode_lines(objects)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return _BOOL[value]
    return str(value)


#: Formats by name.
FORMATS: dict[str, type[Format]] = {f.name: f for f in (CsvFormat, NdjsonFormat)}


async def encode(fmt: Format, pages: AsyncIterable[Sequence[CandleRow]]) -> AsyncIterator[bytes]:
    """The header, then one chunk of bytes per non-empty page (e.g. :meth:`CandleReader.stream_rows`)."""
    head = fmt.header()
    if head:
        yield head
    async for page in pages:
        if page:
            yield fmt.rows(page)
