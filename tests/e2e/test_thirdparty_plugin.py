"""A third-party plugin distribution, pip-installed for real, listed and run by the daemon."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Running, candlewick, candlewick_env

pytestmark = pytest.mark.slow


def test_plugins_lists_origin_and_reports_a_broken_one(thirdparty_site: Path) -> None:
    """`candlewick plugins` shows name, kind, version, origin; a broken plugin is one clear error."""
    result = candlewick("plugins", env=candlewick_env(thirdparty_site))
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line and not line[0].isspace()}
    assert rows["ticker"][:4] == ["ticker", "source", "0.3.0", "candlewick-ticker"]
    assert rows["ticker"][-1] == "ok"
    assert rows["sqlite"][1:4] == ["sink", "0.1.0", "built-in"]
    assert rows["ticker-broken"][-1] == "error"
    assert (
        "ticker-broken: plugin 'ticker-broken' (entry point 'candlewick_ticker.broken') failed to load: "
        "ImportError: candlewick_ticker.broken needs libticker.so" in result.stdout
    )
    assert result.returncode == 1


def test_disabled_plugin_is_not_loaded(thirdparty_site: Path) -> None:
    """CANDLEWICK_DISABLE_PLUGINS blocks a plugin by name; the rest load and the exit is 0."""
    env = candlewick_env(thirdparty_site, CANDLEWICK_DISABLE_PLUGINS="ticker-broken")
    result = candlewick("plugins", "--json", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"disabled": true' in result.stdout
    assert "libticker" not in result.stdout


def test_daemon_runs_the_third_party_source(thirdparty_site: Path, tmp_path: Path, run_daemon: type[Running]) -> None:
    """`candlewick run` with [sources.ticker] stores its candles in the built-in SQLite sink, exits 0."""
    db = tmp_path / "ticks.db"
    config = tmp_path / "candlewick.toml"
    config.write_text(
        f"""
[sources.ticker]
coins = ["AAA", "BBB"]
period = 0.02

[sink]
use = "sqlite"
[sink.sqlite]
path = "{db}"

[buffer.memory]
flush_interval = 0.1

[control]
socket = "{tmp_path / "ctl.sock"}"

[daemon]
data_dir = "{tmp_path / "data"}"
"""
    )
    env = candlewick_env(thirdparty_site, CANDLEWICK_DISABLE_PLUGINS="ticker-broken")
    daemon = run_daemon.start(config, env, tmp_path)
    deadline = time.monotonic() + 30
    rows = 0
    while time.monotonic() < deadline and rows < 20:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db) as conn:
                    rows = conn.execute("select count(*) from candles where coin in ('AAA', 'BBB')").fetchone()[0]
            except sqlite3.OperationalError:
                rows = 0
    code, err, _ = daemon.stop()
    assert code == 0, err
    assert rows >= 20, err
    assert "source ticker: starting -> running" in err
    with sqlite3.connect(db) as conn:
        coins = {r[0] for r in conn.execute("select distinct coin from candles")}
    assert coins == {"AAA", "BBB"}


def test_child_ignoring_cancellation_cannot_hang_shutdown(
    thirdparty_site: Path, tmp_path: Path, run_daemon: type[Running]
) -> None:
    """A source that swallows cancellation: the daemon still exits 0 soon after the deadline."""
    config = tmp_path / "candlewick.toml"
    config.write_text(
        f"""
[sources.stubborn]
[sink.sqlite]
path = "{tmp_path / "x.db"}"
[control]
socket = "{tmp_path / "ctl.sock"}"
[daemon]
data_dir = "{tmp_path / "data"}"
shutdown_timeout = 0.5
"""
    )
    env = candlewick_env(thirdparty_site, CANDLEWICK_DISABLE_PLUGINS="ticker-broken")
    daemon = run_daemon.start(config, env, tmp_path)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if daemon.proc.poll() is not None:
            break
        # wait until it is up: the control socket or the database appears
        if (tmp_path / "x.db").exists():
            break
    time.sleep(0.5)
    code, err, took = daemon.stop()
    assert code == 0, err
    assert "shutdown took longer than 0.5s; cancelling" in err
    assert "ignored cancellation" in err
    assert took < 0.5 + 3.0 + 3.0
