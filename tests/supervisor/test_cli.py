"""The CLI as a user runs it: help, version, check-config exit codes, import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from candlewick import __version__
from tests.e2e.conftest import candlewick, candlewick_env

HEAVY = ("textual", "asyncpg", "websockets", "httpx", "pydantic", "anyio", "candlewick.tui")


def test_help_imports_nothing_heavy() -> None:
    """`candlewick --help` stays fast: no textual, asyncpg, websockets, httpx (or pydantic) on that path."""
    code = (
        "import sys, contextlib, io\n"
        "from candlewick.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_version_and_help() -> None:
    env = candlewick_env()
    assert candlewick("--version", env=env).stdout.strip() == f"candlewick {__version__}"
    helptext = candlewick("--help", env=env).stdout
    for command in ("run", "check-config", "plugins"):
        assert command in helptext


def test_check_config_prints_effective_values_with_secrets_masked(tmp_path: Path) -> None:
    """check-config shows every section, plugin sections included, passwords masked."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sink]\nuse = "sqlite"\n[sink.sqlite]\npath = "x.db"\n')
    env = candlewick_env(CANDLEWICK_SINK__TIMESCALEDB__PASSWORD="hunter2")
    result = candlewick("--config", str(cfg), "check-config", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sink"]["use"] == "sqlite"
    assert data["sink"]["timescaledb"]["password"] == "********"
    assert "hunter2" not in result.stdout
    assert data["sources"]["hyperliquid"]["coins"] == ["BTC"]
    assert data["sources"]["hyperliquid"]["intervals"] == ["1m", "1h"]


def test_check_config_bad_value_exits_2_with_one_message(tmp_path: Path) -> None:
    """An invalid value: exit 2 and one line naming key, value and what is allowed."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sources.hyperliquid]\nintervals = ["1m", "7m"]\n')
    result = candlewick("--config", str(cfg), "check-config", env=candlewick_env())
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "sources.hyperliquid.intervals: '7m' is not one of 1m, 3m, 5m, 15m" in lines[0]
    assert "Traceback" not in result.stderr


def test_run_with_bad_config_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[daemon]\nbackend = 'curio'\n")
    result = candlewick("--config", str(cfg), "run", env=candlewick_env())
    assert result.returncode == 2
    assert "daemon.backend: 'curio' is not valid" in result.stderr
