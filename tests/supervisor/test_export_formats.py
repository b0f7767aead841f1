"""The shared export encoders (CSV, NDJSON) and the time parser: pure."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import pytest

from candlewick.exporting.formats import COLUMNS, CsvFormat, NdjsonFormat, check_columns, encode
from candlewick.exporting.times import parse_time
from candlewick.model import Candle
from candlewick.reading import CandleRow, candle_row

T = 1_700_000_040_000


def _candle(i: int, *, closed: bool = True) -> CandleRow:
    t = T + i * 60_000
    close = f"3000{i}.10"
    return candle_row(
        Candle("BTC", "1m", t, t + 59_999, "30000.50", "30010.0", "29990.125", close, "0.00012340", 7, closed)
    )


def test_csv_header_is_the_public_column_list_and_rows_keep_exact_decimals() -> None:
    fmt = CsvFormat()
    assert fmt.header() == b"time,open,high,low,close,volume,trades,closed\n"
    assert fmt.rows([_candle(0), _candle(1, closed=False)]) == (
        b"1700000040000,30000.50,30010.0,29990.125,30000.10,0.00012340,7,true\n"
        b"1700000100000,30000.50,30010.0,29990.125,30001.10,0.00012340,7,false\n"
    )


def test_csv_and_ndjson_take_a_subset_of_columns_in_the_order_asked() -> None:
    assert CsvFormat(["close", "time"]).header() == b"close,time\n"
    assert CsvFormat(["close", "time", "closed"]).rows([_candle(0)]) == b"30000.10,1700000040000,true\n"
    line = NdjsonFormat(["time", "volume"]).rows([_candle(0)])
    assert line == b'{"time":1700000040000,"volume":"0.00012340"}\n'


def test_ndjson_rows_are_objects_with_decimal_strings() -> None:
    lines = NdjsonFormat().rows([_candle(0), _candle(1, closed=False)]).decode().splitlines()
    first = json.loads(lines[0])
    assert list(first) == list(COLUMNS)
    assert first == {
        "time": T, "open": "30000.50", "high": "30010.0", "low": "29990.125", "close": "30000.10",
        "volume": "0.00012340", "trades": 7, "closed": True,
    }  # fmt: skip
    assert json.loads(lines[1])["closed"] is False
    assert NdjsonFormat().header() == b""


@pytest.mark.parametrize("bad", [[], ["time", "time"], ["time", "price"]])
def test_bad_columns_are_refused_naming_the_allowed_ones(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="time,open,high,low,close,volume,trades,closed"):
        check_columns(bad)


def test_encode_yields_the_header_then_one_chunk_per_non_empty_page() -> None:
    async def pages() -> AsyncIterator[tuple[CandleRow, ...]]:
        yield (_candle(0),)
        yield ()
        yield (_candle(1), _candle(2))

    async def collect() -> list[bytes]:
        return [chunk async for chunk in encode(CsvFormat(), pages())]

    chunks = anyio.run(collect)
    assert len(chunks) == 3
    assert chunks[0].startswith(b"time,")
    assert b"".join(chunks).count(b"\n") == 4


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1700000040000", 1_700_000_040_000),
        ("2024-01-31", 1_706_659_200_000),
        ("2024-01-31T12:00Z", 1_706_702_400_000),
        ("2024-01-31T12:00:00", 1_706_702_400_000),
        ("2024-01-31T14:00:00.123+02:00", 1_706_702_400_123),
    ],
)
def test_times_are_ms_or_iso_8601_in_utc_by_default(text: str, ms: int) -> None:
    assert parse_time(text) == ms


@pytest.mark.parametrize("text", ["yesterday", "-5", "2024-13-01", ""])
def test_a_bad_time_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time(text)
