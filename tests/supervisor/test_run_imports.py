"""A running daemon imports only what its config needs (memory is a feature: modules stay resident).

A real ``candlewick run`` with a SQLite sink follows the fake exchange until candles flow, stops
on SIGTERM, and reports the modules it imported on the way out.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import anyio
import pytest

from candlewick.testing import FakeExchange
from tests.e2e.conftest import candlewick_env

#: Never needed by a daemon storing into SQLite (prefixes of module names).
NOT_FOR_SQLITE = (
    "textual",
    "candlewick.tui",
    "candlewick.web",
    "starlette",
    "hypercorn",
    "uvicorn",
    "pandas",
    "numpy",
    "asyncpg",
    "candlewick.plugins.timescaledb.sink",
    "rich",
    "pygments",
    "click",
    "IPython",
    "prometheus_client",  # the metrics endpoint is off unless [metrics] listen is set
    "h2",  # the REST client speaks HTTP/1.1; h2 is there for the web service's server
    "hpack",
)
#: The other async backend's library is not imported either.
OTHER_BACKEND = {"asyncio": ("trio",), "trio": ()}

RUNNER = textwrap.dedent(
    """
    import atexit, json, sys
    out = sys.argv[1]
    atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
    from candlewick.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # drives a subprocess; the daemon's own backend is the parameter below


def _config(path: Path, ex: FakeExchange, backend: str) -> None:
    path.write_text(
        f'[sources.hyperliquid]\nws_url = "{ex.ws_url}"\nrest_url = "{ex.rest_url}"\n'
        'coins = ["BTC", "ETH"]\nintervals = ["1m", "5m"]\nbackfill_on_start = "10m"\n'
        f'[sink]\nuse = "sqlite"\n[sink.sqlite]\npath = "{path.parent / "c.db"}"\n'
        f'[control]\nsocket = "{path.parent / "c.sock"}"\n'
        f'[daemon]\ndata_dir = "{path.parent / "data"}"\nbackend = "{backend}"\n'
    )


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
async def test_a_sqlite_daemon_imports_nothing_it_does_not_need(tmp_path: Path, backend: str) -> None:
    async with FakeExchange(seed=3, push_interval=0.05) as ex:
        config = tmp_path / "c.toml"
        _config(config, ex, backend)
        modules = tmp_path / "modules.json"
        proc = await anyio.open_process(
            [sys.executable, "-c", RUNNER, str(modules), "--config", str(config), "run"],
            env=candlewick_env(),
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while ex.stats.candle_frames < 20 and proc.returncode is None and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        await anyio.sleep(1.5)  # a buffer flush and a sink write happen too
        proc.send_signal(signal.SIGTERM)
        with anyio.fail_after(30):
            code = await proc.wait()
        assert proc.stderr is not None
        err = (await proc.stderr.receive() if code else b"").decode(errors="replace")
        assert code == 0, err
    assert ex.stats.candle_frames >= 20, "the daemon never subscribed: the check would prove nothing"
    loaded = json.loads(modules.read_text())
    assert "candlewick.plugins.sqlite.sink" in loaded
    forbidden = NOT_FOR_SQLITE + OTHER_BACKEND[backend]
    unwanted = [m for m in loaded if any(m == p or m.startswith(p + ".") for p in forbidden)]
    assert unwanted == []
