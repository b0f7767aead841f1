"""The CLI as a user runs it: help, version, check-config exit codes, import hygiene."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

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


# -- common options before and after the subcommand ------------------------------------------

COMMON = ("--config", "--log-level", "--log-format")


def _parse(*argv: str) -> argparse.Namespace:
    """What ``main`` hands a subcommand."""
    from candlewick.cli import build_parser, parse

    return parse(build_parser(), list(argv))


def test_common_options_work_after_the_subcommand() -> None:
    """`candlewick run --config FILE` as people type it (freqtrade trade -c, pytest -c)."""
    args = _parse("run", "--config", "a.toml", "--log-level", "debug", "--log-format", "json")
    assert (args.config, args.log_level, args.log_format) == ("a.toml", "debug", "json")
    assert _parse("check-config", "-c", "b.toml").config == "b.toml"
    assert _parse("backfill", "--coin", "BTC", "--intervals", "1h", "--days", "1", "-c", "c.toml").config == "c.toml"


def test_common_options_before_the_subcommand_still_work() -> None:
    args = _parse("-c", "a.toml", "--log-level", "WARNING", "--log-format", "text", "plugins")
    assert (args.config, args.log_level, args.log_format) == ("a.toml", "WARNING", "text")
    assert _parse("tui").config is None


def test_after_the_subcommand_wins() -> None:
    args = _parse("--config", "before.toml", "--log-level", "ERROR", "run", "--config", "after.toml")
    assert args.config == "after.toml"
    assert args.log_level == "ERROR"  # given only before: kept, not reset by the subcommand


def test_ctl_keeps_its_key_value_params_beside_common_options() -> None:
    """ctl's trailing key=value arguments still parse, wherever --config goes."""
    args = _parse("ctl", "stats", "limit=5", "--config", "a.toml", "coin=BTC")
    assert (args.method, args.params, args.config) == ("stats", ["limit=5", "coin=BTC"], "a.toml")
    args = _parse("ctl", "stats", "--json", "-c", "a.toml", "limit=5")
    assert (args.method, args.params, args.json) == ("stats", ["limit=5"], True)
    args = _parse("ctl", "--config", "a.toml", "restart", "hyperliquid")
    assert (args.method, args.params) == ("restart", ["hyperliquid"])


def test_every_subcommand_help_lists_the_common_options() -> None:
    from candlewick.cli import COMMANDS

    env = candlewick_env()
    for name in COMMANDS:
        command = name.replace("_", "-")
        result = candlewick(command, "--help", env=env)
        assert result.returncode == 0, result.stderr
        for option in COMMON:
            assert option in result.stdout, f"{command} --help does not list {option}"


def test_run_with_config_after_the_subcommand_reads_that_file(tmp_path: Path) -> None:
    """End to end: the file given after `run` is the one read (its bad value is reported)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text("[daemon]\nbackend = 'curio'\n")
    result = candlewick("run", "--config", str(cfg), env=candlewick_env())
    assert result.returncode == 2
    assert "unrecognized arguments" not in result.stderr
    assert "daemon.backend: 'curio' is not valid" in result.stderr


# -- a data directory the daemon cannot write ------------------------------------------------

APP_UID = 10001  # the container's user


def test_run_refuses_a_data_directory_it_cannot_write_at_once() -> None:
    """A root-owned folder at data_dir, the daemon running as uid 10001 (a bind mount in a
    container): exit 2 within seconds with one line naming the path, the uid and the chown,
    instead of sink and spool retrying Permission denied until shutdown times out."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch user")  # the CI runs as root
    base = Path(tempfile.mkdtemp(prefix="candlewick-perm-"))
    try:
        base.chmod(0o755)
        data = base / "data"  # as a bind mount leaves it: root's, 0755
        data.mkdir(mode=0o755)
        home = base / "home"  # the user's own: socket, config, working directory
        home.mkdir()
        os.chown(home, APP_UID, APP_UID)
        cfg = home / "candlewick.toml"
        cfg.write_text(
            "[sources.hyperliquid]\n"
            'ws_url = "ws://127.0.0.1:9/ws"\nrest_url = "http://127.0.0.1:9"\nvalidate_coins = false\n'
            f'[daemon]\ndata_dir = "{data}"\nshutdown_timeout = 2\n'
            f'[control]\nsocket = "{home / "control.sock"}"\n'
        )
        command = ["setpriv", f"--reuid={APP_UID}", f"--regid={APP_UID}", "--clear-groups"]
        command += [sys.executable, "-m", "candlewick", "run", "--config", str(cfg)]
        started = time.monotonic()
        result = subprocess.run(
            command,
            cwd=home,
            env=candlewick_env(HOME=str(home)),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        took = time.monotonic() - started
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert str(data) in lines[0]
        assert f"uid {APP_UID}" in lines[0]
        assert f"chown -R {APP_UID}:{APP_UID} {data}" in lines[0]
        assert took < 15
        assert not list(data.iterdir())
    finally:
        shutil.rmtree(base)


# -- compress_after against the intervals followed --------------------------------------------


def _compressing_config(tmp_path: Path, compress_after: str) -> Path:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[sources.hyperliquid]\nintervals = ["1m", "1w"]\n'
        f'[sink]\nuse = "timescaledb"\n[sink.timescaledb]\ncompress_after = "{compress_after}"\n'
    )
    return cfg


def test_check_config_warns_when_compression_would_catch_open_candles(tmp_path: Path) -> None:
    """compress_after shorter than the longest interval: the open 1w candle would sit in a compressed chunk."""
    result = candlewick("check-config", "-c", str(_compressing_config(tmp_path, "3 days")), env=candlewick_env())
    assert result.returncode == 0, result.stderr
    [warning] = result.stderr.strip().splitlines()
    assert warning.startswith("candlewick: warning: sink.timescaledb.compress_after = '3 days'")
    assert "1w" in warning
    assert '"8 days"' in warning
    quiet = candlewick("check-config", "-c", str(_compressing_config(tmp_path, "30 days")), env=candlewick_env())
    assert quiet.returncode == 0
    assert quiet.stderr == ""
