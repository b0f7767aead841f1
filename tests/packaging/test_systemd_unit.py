"""packaging/candlewick.service: verified by systemd itself, hardened, and drains on stop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from candlewick import config
from candlewick.config import DaemonSection
from candlewick.runtime.daemon import KILL_GRACE
from tests.packaging.conftest import UNIT
from tests.packaging.unitfile import Unit, seconds

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (Debian: apt-get install -y systemd)"
)
#: `systemd-analyze security` exposure, 0-100 (shown as 0.0-10.0); 20 keeps the unit in "OK".
MAX_EXPOSURE = 20


def _installed_executable() -> Path:
    """The ``candlewick`` console script of the environment running the tests."""
    path = Path(sys.executable).parent / "candlewick"
    assert path.is_file(), f"{path} missing: install the package (pip install -e .)"
    return path


@pytest.fixture
def local_unit(tmp_path: Path, unit: Unit) -> Path:
    """The unit with ExecStart pointing at this checkout's candlewick (verify checks that it exists)."""
    exec_start = unit.get("Service", "ExecStart").split()[0]
    text = UNIT.read_text(encoding="utf-8").replace(exec_start, str(_installed_executable()))
    path = tmp_path / UNIT.name
    path.write_text(text, encoding="utf-8")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    env = {**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": "", "LC_ALL": "C.UTF-8"}
    return subprocess.run([SYSTEMD_ANALYZE, *args], capture_output=True, text=True, timeout=60, env=env, check=False)


@needs_systemd_analyze
def test_systemd_analyze_verify_is_silent(local_unit: Path) -> None:
    """`systemd-analyze verify` accepts the unit without a single warning (unknown keys only warn)."""
    result = _run("verify", str(local_unit))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr
    assert result.stdout.strip() == "", result.stdout


@needs_systemd_analyze
def test_verify_would_catch_a_typo(local_unit: Path) -> None:
    """The verify check is not vacuous: a misspelt key produces output that the test above rejects."""
    local_unit.write_text(local_unit.read_text().replace("ProtectHome=", "ProtectHomme="), encoding="utf-8")
    result = _run("verify", str(local_unit))
    assert "Unknown key" in result.stderr


@needs_systemd_analyze
def test_security_exposure_is_low(local_unit: Path) -> None:
    """`systemd-analyze security --offline` rates the sandbox OK (exposure at most 2.0 of 10)."""
    result = _run("security", "--offline=true", f"--threshold={MAX_EXPOSURE}", "--no-pager", str(local_unit))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_restarts_on_failure_but_not_on_bad_config(unit: Unit) -> None:
    """Crash (exit 1) restarts; a config error (exit 2) would fail again, so it stops."""
    assert unit.get("Service", "Restart") == "on-failure"
    assert unit.get("Service", "RestartPreventExitStatus") == "2"
    assert seconds(unit.get("Service", "RestartSec")) >= 1


def test_stop_lets_the_daemon_drain(unit: Unit) -> None:
    """SIGTERM to the main process, then more than the shutdown deadline plus kill grace."""
    assert unit.get("Service", "KillSignal") == "SIGTERM"
    assert unit.get("Service", "KillMode") == "mixed"
    drain = DaemonSection().shutdown_timeout + KILL_GRACE
    assert seconds(unit.get("Service", "TimeoutStopSec")) >= 2 * drain


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("User", "candlewick"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("RuntimeDirectory", "candlewick"),
        ("RuntimeDirectoryMode", "0700"),
        ("StateDirectory", "candlewick"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
    ],
)
def test_hardening(unit: Unit, key: str, value: str) -> None:
    """The usual sandboxing is on, and the daemon runs as its own user."""
    assert unit.get("Service", key) == value


def test_defaults_land_in_the_unit_directories(unit: Unit, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the unit's environment and a non-root uid, the data dir and socket are the managed dirs."""
    env = unit.environment()
    monkeypatch.setenv("XDG_DATA_HOME", env["XDG_DATA_HOME"])
    monkeypatch.setenv("XDG_RUNTIME_DIR", env["XDG_RUNTIME_DIR"])
    monkeypatch.setattr(os, "geteuid", lambda: 999)
    state = Path("/var/lib") / unit.get("Service", "StateDirectory")
    runtime = Path("/run") / unit.get("Service", "RuntimeDirectory")
    assert config.default_data_dir() == state
    assert config.default_socket_path().parent == runtime
    writable = unit.get("Service", "ReadWritePaths").split()
    assert str(state) in writable
    assert str(runtime) in writable
    # `sudo candlewick ctl` runs as root, whose default socket is the same path.
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert config.default_socket_path().parent == runtime


def test_memory_cap_fits_the_nas(unit: Unit) -> None:
    """MemoryHigh throttles before MemoryMax kills; both far above the daemon's 80 MB target."""
    high, top = unit.get("Service", "MemoryHigh"), unit.get("Service", "MemoryMax")
    assert high.endswith("M")
    assert top.endswith("M")
    assert 80 < int(high[:-1]) < int(top[:-1]) <= 512
