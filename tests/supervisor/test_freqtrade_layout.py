"""The freqtrade layout, as derived from freqtrade's data handlers (see candlewick.exporting.freqtrade): pure."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pyarrow as pa
import pyarrow.ipc

from candlewick.exporting.freqtrade import (
    default_pair,
    json_number,
    pair_file,
    pair_to_filename,
    write_feather,
    write_json,
)
from candlewick.model import Candle
from candlewick.reading import CandleRow, candle_row

T = 1_700_000_040_000


def _candle(i: int) -> CandleRow:
    t = T + i * 3_600_000
    return candle_row(
        Candle("BTC", "1h", t, t + 3_599_999, "37000.5", "37100", "36900.25", f"3705{i}.0", "12.00012340", 9, True)
    )


async def _pages(*pages: tuple[CandleRow, ...]) -> AsyncIterator[tuple[CandleRow, ...]]:
    for page in pages:
        yield page


def test_hyperliquid_perpetuals_are_futures_pairs_settled_in_usdc() -> None:
    assert default_pair("BTC") == "BTC/USDC:USDC"
    assert pair_to_filename("BTC/USDC:USDC") == "BTC_USDC_USDC"
    assert pair_to_filename("kPEPE/USDC:USDC") == "kPEPE_USDC_USDC"
    assert pair_to_filename("A.B @c$d+e/USDC") == "A_B__c_d_e_USDC"


def test_file_names_and_folders_are_the_ones_freqtrade_reads() -> None:
    data = Path("user_data/data/hyperliquid")
    assert pair_file(data, "BTC/USDC:USDC", "1h") == data / "futures" / "BTC_USDC_USDC-1h-futures.json"
    assert pair_file(data, "BTC/USDC:USDC", "1M", "feather") == data / "futures" / "BTC_USDC_USDC-1Mo-futures.feather"
    assert pair_file(data, "PURR/USDC", "1d") == data / "PURR_USDC-1d.json"  # spot: no folder, no suffix


def test_json_is_one_array_of_ms_open_high_low_close_volume_rows_with_the_exchanges_digits() -> None:
    out = io.StringIO()
    rows = anyio.run(write_json, out, _pages((_candle(0), _candle(1)), (), (_candle(2),)))
    assert rows == 3
    text = out.getvalue()
    assert text.startswith("[[1700000040000,37000.5,37100,36900.25,37050.0,12.00012340],")
    assert json.loads(text) == [
        [T + i * 3_600_000, 37000.5, 37100, 36900.25, float(f"3705{i}.0"), 12.0001234] for i in range(3)
    ]
    empty = io.StringIO()
    assert anyio.run(write_json, empty, _pages()) == 0
    assert json.loads(empty.getvalue()) == []


def test_decimals_that_are_not_json_numbers_are_rewritten_exactly() -> None:
    assert [json_number(x) for x in ("37000.50", "0", "0.00012340", "12")] == ["37000.50", "0", "0.00012340", "12"]
    assert [json_number(x) for x in (".5", "5.", "1E+3", "0005", "1.5e-7")] == ["0.5", "5", "1000", "5", "0.00000015"]


def test_feather_is_an_arrow_file_with_a_utc_ms_date_and_float_prices() -> None:
    out = io.BytesIO()
    assert anyio.run(write_feather, out, _pages((_candle(0),), (_candle(1),))) == 2
    table = pa.ipc.open_file(pa.BufferReader(out.getvalue())).read_all()
    assert table.schema.names == ["date", "open", "high", "low", "close", "volume"]
    assert table.schema.field("date").type == pa.timestamp("ms", tz="UTC")
    assert table.column("close").to_pylist() == [37050.0, 37051.0]
    assert [d.timestamp() * 1000 for d in table.column("date").to_pylist()] == [T, T + 3_600_000]
