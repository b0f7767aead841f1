"""``candlewick export`` and the Python API against a real SQLite store, configured by a file."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import anyio
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest

import candlewick
from candlewick.cli import main
from candlewick.exporting.progress import Progress
from candlewick.gaps.ledger import MarketCoverage
from candlewick.gaps.store import Store, state_filename
from candlewick.model import DAY_MS
from candlewick.plugin import state_key

from .contract import running
from .helpers import T0, candle, sqlite_sink

N = 12


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config naming a SQLite store holding BTC 1m candles 0..11 (11 still open) and one ETH candle."""
    db = tmp_path / "candles.db"

    async def fill() -> None:
        async with running(sqlite_sink(db)) as sink:
            await sink.write([candle(i, closed=i < N - 1, volume="0.00012340") for i in range(N)])
            await sink.write([candle(0, coin="ETH", closed=True)])

    anyio.run(fill)
    path = tmp_path / "candlewick.toml"
    path.write_text(f'[sink]\nuse = "sqlite"\n[sink.sqlite]\npath = "{db}"\n[daemon]\ndata_dir = "{tmp_path}"\n')
    return path


def export(config: Path, *args: str) -> int:
    return main(["export", "-c", str(config), "--coin", "BTC", "--interval", "1m", *args])


def test_csv_export_streams_every_candle_with_exact_decimals(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "btc.csv"
    assert export(config, "-o", str(out)) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "time,open,high,low,close,volume,trades,closed"
    assert len(lines) == 1 + N
    assert lines[1] == f"{T0},30000.5,30010.25,29990.125,30001.0,0.00012340,1,true"
    assert lines[-1].endswith(",false")
    assert not list(tmp_path.glob("*.part"))


def test_an_output_that_is_no_regular_file_is_written_into_not_replaced(config: Path, tmp_path: Path) -> None:
    """``-o /dev/null`` or a FIFO: the export writes into it (a ``.part`` renamed over it would replace it)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    drain = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    drain.start()
    assert export(config, "-o", str(fifo)) == 0
    drain.join(timeout=10)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received[0].count(b"\n") == 1 + N
    assert not list(tmp_path.glob("*.part"))


def test_ranges_take_ms_or_iso_and_closed_only_leaves_out_the_open_candle(
    config: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    start, end = T0 + 2 * 60_000, T0 + 5 * 60_000
    assert export(config, "--format", "ndjson", "--start", str(start), "--end", str(end)) == 0
    rows = [json.loads(line) for line in capfdbinary.readouterr().out.splitlines()]
    assert [r["time"] for r in rows] == [start, start + 60_000, start + 120_000]
    assert rows[0]["volume"] == "0.00012340"
    iso = "2023-11-14T22:24Z"  # T0 + 10 minutes
    assert export(config, "--closed-only", "--start", iso) == 0
    out = capfdbinary.readouterr().out.decode().splitlines()
    assert out[1:] == [f"{T0 + 10 * 60_000},30010.5,30020.25,30000.125,30011.0,0.00012340,1,true"]


def test_freqtrade_export_writes_closed_candles_where_freqtrade_looks(config: Path, tmp_path: Path) -> None:
    data = tmp_path / "user_data" / "data" / "hyperliquid"
    assert export(config, "--format", "freqtrade", "-o", str(data)) == 0
    rows = json.loads((data / "futures" / "BTC_USDC_USDC-1m-futures.json").read_text())
    assert len(rows) == N - 1  # the open candle stays out
    assert rows[0] == [T0, 30000.5, 30010.25, 29990.125, 30001.0, 0.0001234]
    assert export(config, "--format", "freqtrade", "--freqtrade-format", "feather", "-o", str(data)) == 0
    table = pa.ipc.open_file(str(data / "futures" / "BTC_USDC_USDC-1m-futures.feather")).read_all()
    assert table.num_rows == N - 1
    assert export(config, "--format", "freqtrade", "--pair", "BTC/USDC", "-o", str(data)) == 0
    assert (data / "BTC_USDC-1m.json").exists()


def test_bad_input_is_a_usage_error_and_a_missing_store_a_failure(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(config, "--start", "yesterday") == 2
    assert "ISO-8601" in capsys.readouterr().err
    assert main(["export", "-c", str(config), "--coin", "BTC", "--interval", "7m"]) == 2
    assert "'7m' is not one of" in capsys.readouterr().err
    assert export(config, "--start", "2024-01-02", "--end", "2024-01-01") == 2
    assert export(config, "--sink", "nosuch") == 2
    missing = tmp_path / "missing.toml"
    missing.write_text(f'[sink.sqlite]\npath = "{tmp_path / "none.db"}"\n')
    assert export(missing) == 1
    err = capsys.readouterr().err
    assert "sink unavailable" in err
    assert "does not exist" in err


def test_the_progress_bar_draws_only_on_a_terminal() -> None:
    quiet = io.StringIO()
    bar = Progress("BTC 1m", 200, stream=quiet)
    bar.advance(50)
    bar.finish()
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = Progress("BTC 1m", 200, stream=loud, force=True)
    bar.advance(50)
    bar.finish()
    assert "BTC 1m [#######.......................] 50/200 rows 25%" in loud.getvalue()
    assert loud.getvalue().endswith("BTC 1m [##############################] 50/50 rows 100%\n")


@pytest.mark.anyio
async def test_the_python_api_reads_rows_frames_markets_and_coverage_inside_a_running_loop(
    config: Path, tmp_path: Path
) -> None:
    """Notebooks run an event loop: the store's blocking calls work from inside one."""
    day = T0 - T0 % DAY_MS
    ledger = Store(tmp_path / state_filename(state_key("sqlite", str(tmp_path / "candles.db"))))
    ledger.open()
    ledger.save_market("BTC", "1m", MarketCoverage(lost=[(T0 - 120_000, T0 - 60_000)]))
    ledger.close()
    with candlewick.open_store(config) as store:
        rows = store.candles("BTC", "1m", T0 + 60_000, "2023-11-14T22:19Z")
        assert [c.open_time for c in rows] == [T0 + i * 60_000 for i in range(1, 5)]
        assert len(store.candles("BTC", "1m", closed_only=True)) == N - 1
        assert [c.open_time for c in store.newest("BTC", "1m", 2)] == [T0 + 10 * 60_000, T0 + 11 * 60_000]
        assert [(m.coin, m.count) for m in store.markets()] == [("BTC", N), ("ETH", 1)]
        frame = store.frame("BTC", "1m")
        assert list(frame.columns) == ["open", "high", "low", "close", "volume", "trades", "closed"]
        assert frame["volume"].iloc[0] == Decimal("0.00012340")
        assert frame.index[0] == pd.Timestamp(T0, unit="ms", tz="UTC")
        assert store.frame("BTC", "1m", prices="str")["open"].iloc[0] == "30000.5"
        coverage = store.coverage("BTC", "1m", day + 1_000 * 60_000, T0 + N * 60_000)
        assert [(c.day, c.stored, c.lost) for c in coverage] == [(day, N, 2)]
    with pytest.raises(RuntimeError, match="closed"):
        store.newest("BTC", "1m")


def test_the_readmes_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python API block, as written, against a store found through $CANDLEWICK_CONFIG."""
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    block = readme.split("### Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    db = tmp_path / "c.db"
    first = 1_703_462_400_000  # 2023-12-25 00:00 UTC

    async def fill() -> None:
        async with running(sqlite_sink(db)) as sink:
            base = candle(0, interval="1h", closed=True)
            hours = [
                replace(base, open_time=first + i * 3_600_000, close_time=first + (i + 1) * 3_600_000 - 1)
                for i in range(24 * 45)
            ]
            await sink.write(hours)

    anyio.run(fill)
    (tmp_path / "c.toml").write_text(f'[sink.sqlite]\npath = "{db}"\n[daemon]\ndata_dir = "{tmp_path}"\n')
    monkeypatch.setenv("CANDLEWICK_CONFIG", str(tmp_path / "c.toml"))
    printed: list[str] = []
    exec(block, {"print": lambda *a: printed.append(" ".join(map(str, a)))})
    assert printed[0] == f"BTC 1h {first} {first + (24 * 45 - 1) * 3_600_000} {24 * 45}"
    assert printed[1].startswith(f"{1_704_067_200_000} ")  # 2024-01-01 00:00 UTC
    assert printed[-2].endswith(" 0 24 0 False")  # coverage runs to today: nothing stored lately
    assert printed[-1].split()[1:3] == ["0", str(1 + (int(time.time()) % 86_400) // 3600)]  # today: hours begun


def test_a_missing_optional_library_is_named_with_its_extra(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with candlewick.open_store(config) as store, pytest.raises(ImportError, match=r"candlewick\[pandas\]"):
        store.frame("BTC", "1m")
    assert export(config, "--format", "freqtrade", "--freqtrade-format", "feather", "-o", str(tmp_path / "ft")) == 2
    assert "pip install 'candlewick[feather]'" in capsys.readouterr().err
    assert not (tmp_path / "ft").exists()  # refused before anything was written
