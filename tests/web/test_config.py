"""[web] is off by default and imported only when configured; its settings fail fast and clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from candlewick.config import Settings
from candlewick.errors import ConfigError
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.services import build_web_server, default_services
from candlewick.web.hosts import HostAllowList, parse_web_listen


def _settings(tmp_path: Path, **web: object) -> Settings:
    return Settings.model_validate(
        {
            "sources": {"hyperliquid": {"coins": ["BTC"], "intervals": ["1m"]}},
            "sink": {"use": "sqlite", "sqlite": {"path": str(tmp_path / "c.db")}},
            "control": {"socket": str(tmp_path / "c.sock")},
            "daemon": {"data_dir": str(tmp_path / "data")},
            "web": web,
        }
    )


def _daemon(settings: Settings) -> Daemon:
    daemon = Daemon(settings, build_plugin_manager(), services=default_services())
    try:
        daemon.build()
    except BaseException:
        daemon.close()
        raise
    return daemon


def test_off_by_default_and_not_even_imported(tmp_path: Path) -> None:
    """A daemon without [web] listen has no web service and never imports starlette or hypercorn."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[sink.sqlite]\npath = "{tmp_path / "c.db"}"\n[control]\nsocket = "{tmp_path / "c.sock"}"\n'
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    script = f"""
import sys
from pathlib import Path
from candlewick.config import load_settings
from candlewick.pluginmanager import build_plugin_manager
from candlewick.runtime.daemon import Daemon
from candlewick.runtime.services import default_services
daemon = Daemon(load_settings(Path({str(config)!r})), build_plugin_manager(), services=default_services())
daemon.build()
assert "web" not in daemon.components, daemon.components
web = ("starlette", "hypercorn", "candlewick.web")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in web or m.startswith(web[2]))
assert not loaded, loaded
daemon.close()
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_on_when_listen_is_set(tmp_path: Path) -> None:
    daemon = _daemon(_settings(tmp_path, listen="127.0.0.1:0", token="a-token-of-enough-length"))
    assert daemon.components["web"].kind == "service"
    daemon.close()


def test_missing_extra_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without starlette/hypercorn the error says which extra to install."""
    monkeypatch.setitem(sys.modules, "candlewick.web.service", None)
    daemon = Daemon(_settings(tmp_path, listen="127.0.0.1:8000"), build_plugin_manager())
    with pytest.raises(ConfigError) as caught:
        build_web_server(daemon)
    assert "'web' extra" in str(caught.value)
    assert "pip install 'candlewick[web]'" in str(caught.value)
    daemon.close()


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ({"listen": "8000"}, "web.listen: '8000' is not HOST:PORT"),
        ({"listen": "nas.local:8000"}, "web.listen: 'nas.local' is not an IP address"),
        ({"listen": "127.0.0.1:8000", "token": "short"}, "web.token is shorter than 16 characters"),
        ({"listen": "127.0.0.1:8000", "token_file": "/nonexistent/token"}, "web.token_file '/nonexistent/token'"),
    ],
)
def test_bad_settings_fail_fast(tmp_path: Path, web: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _daemon(_settings(tmp_path, **web))


def test_unknown_key_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="listne"):
        _settings(tmp_path, listne="127.0.0.1:8000")


def test_listen_and_host_parsing() -> None:
    assert parse_web_listen("0.0.0.0:8000") == ("0.0.0.0", 8000)
    assert parse_web_listen("[::1]:8000") == ("::1", 8000)
    assert parse_web_listen("localhost:80") == ("127.0.0.1", 80)
    hosts = HostAllowList("0.0.0.0", ["nas.local:8000", "Candles.LAN"])
    assert hosts.allows("localhost:8000")
    assert hosts.allows("candles.lan")
    assert hosts.allows("NAS.local:8000")
    assert not hosts.allows("nas.local")
    assert not hosts.allows("0.0.0.0:8000"), "the wildcard address is no host name"
    assert not hosts.allows(None)
    assert HostAllowList("192.168.1.5", []).allows("192.168.1.5:8000")
