"""One export: read a market's range through a :class:`CandleReader` and write it out, streaming.

The async core of ``candlewick export`` (the command line parses and reports); a page of
candles is the most held in memory at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import IO, Literal

from candlewick.exporting import freqtrade
from candlewick.exporting.formats import FORMATS, encode
from candlewick.exporting.progress import Progress
from candlewick.reading import MAX_PAGE, CandleReader, CandleRow

__all__ = ["ExportFormat", "Request", "expected_rows", "export_bytes", "export_freqtrade"]

ExportFormat = Literal["csv", "ndjson", "freqtrade"]


@dataclass(frozen=True, slots=True)
class Request:
    """What to export: one market over ``[start, end)``."""

    coin: str
    interval: str
    start: int
    end: int
    closed_only: bool = False
    page_size: int = MAX_PAGE


async def expected_rows(reader: CandleReader, req: Request) -> int:
    """Stored candles in the range (open ones included): the progress bar's total."""
    return sum((await reader.day_counts(req.coin, req.interval, req.start, req.end)).values())


async def _pages(
    reader: CandleReader, req: Request, progress: Progress | None, *, closed_only: bool
) -> AsyncIterator[Sequence[CandleRow]]:
    async for page in reader.stream_rows(
        req.coin, req.interval, req.start, req.end, page_size=req.page_size, closed_only=closed_only
    ):
        yield page
        if progress is not None:
            progress.advance(len(page))


async def export_bytes(
    reader: CandleReader, req: Request, fmt: str, out: IO[bytes], progress: Progress | None = None
) -> int:
    """Write CSV or NDJSON to ``out``; returns the rows written.

    CSV comes from the store itself when it can write it (:meth:`CandleReader.copy_csv`).
    """
    if fmt == "csv":
        copied = await _copy_csv(reader, req, out, progress)
        if copied is not None:
            return copied
    rows = 0

    async def counted() -> AsyncIterator[Sequence[CandleRow]]:
        nonlocal rows
        async for page in _pages(reader, req, progress, closed_only=req.closed_only):
            rows += len(page)
            yield page

    async for chunk in encode(FORMATS[fmt](), counted()):
        out.write(chunk)
    return rows


async def _copy_csv(reader: CandleReader, req: Request, out: IO[bytes], progress: Progress | None) -> int | None:
    header = True

    async def write(chunk: bytes) -> None:
        nonlocal header
        out.write(chunk)
        if progress is not None:
            progress.advance(chunk.count(b"\n") - header)
            header = False

    return await reader.copy_csv(req.coin, req.interval, req.start, req.end, write, closed_only=req.closed_only)


async def export_freqtrade(
    reader: CandleReader,
    req: Request,
    kind: freqtrade.FreqtradeFormat,
    out: IO[bytes] | IO[str],
    progress: Progress | None = None,
) -> int:
    """Write freqtrade's json or feather layout of the closed candles to ``out``; returns the rows."""
    pages = _pages(reader, req, progress, closed_only=True)
    if kind == "json":
        return await freqtrade.write_json(out, pages)  # type: ignore[arg-type]
    return await freqtrade.write_feather(out, pages)  # type: ignore[arg-type]
