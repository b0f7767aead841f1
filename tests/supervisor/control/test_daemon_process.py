"""A daemon process as users run it: ctl talks to it, a second one is refused, shutdown ends it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

DAEMON = """
import sys
from pathlib import Path

import anyio

from candlewick.commands._common import report
from candlewick.errors import CandlewickError
from candlewick.logsetup import setup_logging
from tests.supervisor.control.conftest import make_daemon

setup_logging("INFO")
try:
    daemon = make_daemon(Path(sys.argv[1]), Path(sys.argv[2]), backend=sys.argv[3])
except CandlewickError as err:
    report(err)
    sys.exit(2)
sys.exit(anyio.run(daemon.run, backend=sys.argv[3]))
"""

pytestmark = pytest.mark.slow


def start(tmp_path: Path, socket: Path, backend: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", DAEMON, str(tmp_path), str(socket), backend],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "candlewick", "ctl", *args], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_daemon_process_ctl_second_daemon_and_shutdown(tmp_path: Path, sock_dir: Path, backend: str) -> None:
    socket = sock_dir / "control.sock"
    first = start(tmp_path / "a", socket, backend)
    try:
        deadline = time.monotonic() + 20
        while ctl("--socket", str(socket), "health").returncode != 0:
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline, "the daemon did not come up"
            time.sleep(0.2)
        status = ctl("--socket", str(socket), "status")
        assert status.returncode == 0, status.stderr
        assert f"pid {first.pid}" in status.stdout
        assert f"backend {backend}" in status.stdout

        second = start(tmp_path / "b", socket, backend)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 2
        assert f"another candlewick daemon (pid {first.pid}) already serves {socket}" in err
        assert ctl("--socket", str(socket), "status").returncode == 0, "the first daemon keeps serving"

        done = ctl("--socket", str(socket), "shutdown")
        assert done.returncode == 0, done.stderr
        _, err = first.communicate(timeout=30)
        assert first.returncode == 0, err
        assert "shutting down (control socket)" in err
        assert not socket.exists()
        gone = ctl("--socket", str(socket), "status")
        assert gone.returncode == 3
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
