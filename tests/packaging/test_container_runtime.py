"""The image's runtime contract, played without Docker: the daemon as uid 10001 with the image's
ENV and WORKDIR (re-rooted under a temporary directory), the HEALTHCHECK command exactly as the
Dockerfile writes it, and the stop signal.

Docker cannot run on the CI machines; this is the closest honest check of what the container does:
the state lands on the two VOLUME directories, the healthcheck passes against the live daemon and
fails without it, and SIGTERM drains and exits 0 well within the compose stop_grace_period.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from candlewick.testing import FakeExchange
from tests.packaging import dockerfile_lint as dl
from tests.packaging.conftest import DOCKERFILE
from tests.packaging.unitfile import seconds

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

SETPRIV = shutil.which("setpriv")
UID = 10001


@pytest.fixture
def anyio_backend() -> str:
    """The fake exchange runs in the test's event loop; one backend is enough here."""
    return "asyncio"


def _final_stage() -> list[dl.Instruction]:
    return dl.stages(dl.parse(DOCKERFILE.read_text(encoding="utf-8")))[-1]


def _image_env(root: Path) -> dict[str, str]:
    """The runtime stage's ENV, absolute paths moved under ``root``, PATH to this checkout's venv."""
    env: dict[str, str] = {}
    for ins in _final_stage():
        if ins.keyword == "ENV":
            for word in ins.args.split():
                name, _, value = word.partition("=")
                env[name] = value
    for name in ("XDG_DATA_HOME", "XDG_RUNTIME_DIR", "HOME"):
        env[name] = str(root / env[name].lstrip("/"))
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    return env


def _healthcheck_script() -> str:
    (health,) = [ins.args for ins in _final_stage() if ins.keyword == "HEALTHCHECK"]
    return health.partition(" CMD ")[2]


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A root for the container's paths that uid 10001 can reach (pytest's tmp_path is root-only)."""
    root = Path(tempfile.mkdtemp(prefix="cw-image-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _reach_interpreter() -> list[str]:
    """setpriv options uid 10001 needs to run this checkout's Python.

    In the image the venv is world-readable. On a machine whose interpreter lives under a private
    home (pyenv in /root, mode 0700) the user gets CAP_DAC_READ_SEARCH and nothing else: it may
    read and search directories, never write where its uid may not, and peer credentials on the
    control socket still see uid 10001.
    """
    assert SETPRIV is not None
    base = [SETPRIV, f"--reuid={UID}", f"--regid={UID}", "--clear-groups"]
    probe = subprocess.run([*base, "sh", "-c", f'"{sys.executable}" -c pass'], capture_output=True, check=False)
    if probe.returncode == 0:
        return []
    return ["--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search"]


def _as_image_user(argv: list[str], extra: list[str]) -> list[str]:
    assert SETPRIV is not None
    return [SETPRIV, f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *extra, *argv]


@pytest.mark.skipif(os.geteuid() != 0 or SETPRIV is None, reason="needs root and setpriv to run as uid 10001")
async def test_daemon_runs_as_the_image_runs_it(image_root: Path) -> None:
    """Non-root, image ENV: state on the volumes, healthcheck 0 while up, SIGTERM drains to exit 0."""
    env = _image_env(image_root)
    workdir = image_root / "var/lib/candlewick"  # the Dockerfile's WORKDIR and first VOLUME
    rundir = image_root / "run/candlewick"  # the second VOLUME
    for d in (workdir, rundir):
        d.mkdir(parents=True)
        os.chown(d, UID, UID)
    rundir.chmod(0o700)
    health = _healthcheck_script()
    caps = _reach_interpreter()

    def healthcheck() -> int:
        done = subprocess.run(_as_image_user(["sh", "-c", health], caps), env=env, cwd=workdir, timeout=60, check=False)
        return done.returncode

    async with FakeExchange(seed=3) as ex:
        config = workdir / "candlewick.toml"
        config.write_text(
            f'[sources.hyperliquid]\nws_url = "{ex.ws_url}"\nrest_url = "{ex.rest_url}"\n'
            'coins = ["BTC"]\nintervals = ["1m"]\nbackfill_on_start = "10m"\n',
            encoding="utf-8",
        )
        # The image's CMD, with the config the compose file would mount at /etc/candlewick.
        argv = ["candlewick", "--config", str(config), "--log-format", "json", "run"]
        with (image_root / "daemon.log").open("wb") as log:
            proc = await anyio.open_process(_as_image_user(argv, caps), env=env, cwd=workdir, stdout=log, stderr=log)
            try:
                deadline = time.monotonic() + 30
                while (code := await anyio.to_thread.run_sync(healthcheck)) != 0 and time.monotonic() < deadline:
                    assert proc.returncode is None, (image_root / "daemon.log").read_text()
                    await anyio.sleep(0.5)
                assert code == 0, (image_root / "daemon.log").read_text()
                socket = rundir / "control.sock"
                assert socket.is_socket()
                assert socket.stat().st_uid == UID
                with anyio.fail_after(30):  # the first rows reach the default SQLite file on the data volume
                    while not (workdir / "candlewick.db").exists():
                        await anyio.sleep(0.2)
            finally:
                begin = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                with anyio.move_on_after(60):
                    await proc.wait()
                took = time.monotonic() - begin
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    assert proc.returncode == 0, (image_root / "daemon.log").read_text()
    assert took < seconds("30s"), "the compose stop_grace_period would SIGKILL a drain this slow"
    assert (workdir / "candlewick.db").stat().st_uid == UID
    assert await anyio.to_thread.run_sync(healthcheck) == 1, "with no daemon the healthcheck must fail (exit 1)"
