"""``candlewick ctl`` as a real subprocess against a real daemon: output and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import pytest

from candlewick.commands import ctl
from tests.supervisor.control.conftest import Running

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """One backend is enough here: the subject is the CLI process, not the event loop."""
    return "asyncio"


async def run_ctl(*args: str) -> tuple[int, str, str]:
    result = await anyio.run_process([sys.executable, "-m", "candlewick", "ctl", *args], check=False)
    return result.returncode, result.stdout.decode(), result.stderr.decode()


async def test_status_table_exit_0(running: Running) -> None:
    code, out, err = await run_ctl("--socket", str(running.socket), "status")
    assert code == 0, err
    assert "NAME" in out
    assert "LAST ERROR" in out
    for name in ("feed", "through", "mem", "control"):
        assert name in out
    assert "healthy" in out


async def test_json_method_with_params_exit_0(running: Running) -> None:
    code, out, err = await run_ctl(
        "--socket", str(running.socket), "--json", "candles.recent", "coin=BTC", "interval=1m", "limit=1"
    )
    assert code == 0, err
    assert [c["time"] for c in json.loads(out)["candles"]] == [1_700_000_160_000]


async def test_restart_and_health_friendly_forms(running: Running) -> None:
    code, out, err = await run_ctl("--socket", str(running.socket), "restart", "feed")
    assert code == 0, err
    assert json.loads(out)["name"] == "feed"
    code, out, err = await run_ctl("--socket", str(running.socket), "health")
    assert code == 0, err
    assert out.splitlines()[0] in ("healthy", "degraded")


async def test_rpc_error_exit_1(running: Running) -> None:
    code, _, err = await run_ctl("--socket", str(running.socket), "restart", "nope")
    assert code == 1
    assert "no component named 'nope'" in err
    assert "not found" in err
    code, _, err = await run_ctl("--socket", str(running.socket), "backfill.list")
    assert code == 1
    assert "no backfill service is running" in err


async def test_unreachable_exit_3_names_the_socket_and_how_to_start(sock_dir: Path) -> None:
    missing = sock_dir / "none.sock"
    code, out, err = await run_ctl("--socket", str(missing), "status")
    assert code == 3
    assert str(missing) in err
    assert "candlewick run" in err
    assert out == ""


async def test_usage_errors_exit_2(sock_dir: Path) -> None:
    code, _, err = await run_ctl("--socket", str(sock_dir / "x.sock"), "restart")
    assert code == 2
    assert "usage" in err
    code, _, err = await run_ctl("--socket", str(sock_dir / "x.sock"), "stats", "novalue")
    assert code == 2
    assert "key=value" in err


def test_parse_params_json_values_or_strings() -> None:
    assert ctl.parse_params(["limit=5", "coin=BTC", "days=\"max\"", "intervals=[\"1m\"]", "x=a=b"]) == {
        "limit": 5, "coin": "BTC", "days": "max", "intervals": ["1m"], "x": "a=b",
    }  # fmt: skip
    assert ctl.request_for("stop", ["feed"]) == ("component.stop", {"name": "feed"})


def test_status_table_names_a_clock_off_the_exchange() -> None:
    """A measured offset gets a line under the daemon's; past the threshold it says to fix NTP."""
    clock = {"detail": "the local clock is 120.3 s ahead of the exchange (±0.5 s)", "ok": False}
    lines = ctl.render_status({"daemon": {}, "components": [], "clock": clock}).splitlines()
    assert lines[2] == "clock the local clock is 120.3 s ahead of the exchange (±0.5 s): fix NTP on this host"
    assert "clock" not in ctl.render_status({"daemon": {}, "components": [], "clock": None})


def test_duration_rendering() -> None:
    assert [ctl.duration(v) for v in (None, 5, 125, 7500, 3 * 86400 + 4 * 3600 + 12 * 60)] == [
        "-", "5s", "2m05s", "2h05m", "3d 04:12",
    ]  # fmt: skip
