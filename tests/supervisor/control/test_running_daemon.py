"""``candlewick.testing.daemon``: a daemon inside a test's task, stopped when the block ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from candlewick.runtime.policy import ChildState
from candlewick.testing.daemon import running_daemon
from tests.supervisor.control.conftest import make_daemon

pytestmark = pytest.mark.anyio


async def test_the_daemon_runs_in_the_block_and_stops_after_it(
    tmp_path: Path, sock_dir: Path, anyio_backend: str
) -> None:
    socket = sock_dir / "c.sock"
    daemon = make_daemon(tmp_path, socket, backend=anyio_backend)
    async with running_daemon(daemon, until_running=True):
        assert {c.state for c in daemon.supervisor.children.values()} == {ChildState.RUNNING}
        assert socket.exists()
    assert daemon.exit_code == 0
    assert not socket.exists(), "the daemon's run ended: it removed its socket"


async def test_a_failing_block_still_stops_the_daemon(tmp_path: Path, sock_dir: Path, anyio_backend: str) -> None:
    socket = sock_dir / "c.sock"
    daemon = make_daemon(tmp_path, socket, backend=anyio_backend)
    with pytest.raises(RuntimeError, match="the test failed"):
        async with running_daemon(daemon, until_running=True):
            raise RuntimeError("the test failed")
    assert daemon.exit_code == 0
    assert not socket.exists()
