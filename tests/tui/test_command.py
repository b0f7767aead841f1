"""``candlewick tui``: which socket it attaches to, and usage errors."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from candlewick.cli import build_parser, main
from candlewick.commands.tui import socket_path


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_socket_option_wins(tmp_path: Path) -> None:
    config = tmp_path / "candlewick.toml"
    config.write_text('[control]\nsocket = "/from/config.sock"\n')
    args = parse("-c", str(config), "tui", "--socket", "/explicit.sock")
    assert socket_path(args) == Path("/explicit.sock")


def test_socket_from_the_config_file(tmp_path: Path) -> None:
    """Without --socket the daemon's own config says where its socket is."""
    config = tmp_path / "candlewick.toml"
    config.write_text('[control]\nsocket = "/from/config.sock"\n')
    assert socket_path(parse("-c", str(config), "tui")) == Path("/from/config.sock")


def test_default_socket_without_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CANDLEWICK_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    path = socket_path(parse("tui"))
    assert path.name == "control.sock"


def test_bad_config_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config that does not validate exits 2 with one line naming the key, before any screen."""
    config = tmp_path / "candlewick.toml"
    config.write_text("[control]\nsockett = 1\n")
    assert main(["-c", str(config), "tui"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("candlewick: invalid configuration:")
    assert "sockett" in err


@pytest.mark.parametrize("rate", ["0", "-1", "fast", "100"])
def test_refresh_rate_must_be_sane(rate: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse("tui", "--refresh-rate", rate)
    assert info.value.code == 2
    assert "--refresh-rate" in capsys.readouterr().err


def test_without_a_terminal_it_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """Under pytest stdin is not a terminal: one line saying what to do, exit 2, no screen."""
    assert main(["tui", "--socket", "/nowhere.sock"]) == 2
    err = capsys.readouterr().err
    assert "needs a terminal" in err
    assert "docker exec -it" in err
