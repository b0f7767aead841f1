"""Fixtures for running candlewick as users run it: real processes, real installs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
THIRDPARTY = HERE.parent / "thirdparty_plugin"


@pytest.fixture(scope="session")
def thirdparty_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The candlewick-ticker distribution, really installed (pip) into its own site dir."""
    work = tmp_path_factory.mktemp("ticker")
    src = work / "src"
    shutil.copytree(THIRDPARTY, src, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = work / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    assert (site / "candlewick_ticker-0.3.0.dist-info" / "entry_points.txt").is_file()
    return site


def candlewick_env(site: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEWICK_")}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    env.update(extra)
    return env


def candlewick(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "candlewick", *args],
        check=False,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Running:
    """A ``candlewick run`` subprocess."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    @classmethod
    def start(cls, config: Path, env: dict[str, str], cwd: Path) -> Running:
        raise NotImplementedError("use the run_daemon fixture, which tracks and reaps the processes")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> tuple[int, str, float]:
        """Signal it; returns exit code, its stderr and how long it took to exit."""
        start = time.monotonic()
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err, time.monotonic() - start


@pytest.fixture
def run_daemon() -> Iterator[type[Running]]:
    procs: list[subprocess.Popen[str]] = []

    class Factory(Running):
        @classmethod
        def start(cls, config: Path, env: dict[str, str], cwd: Path) -> Running:
            proc = subprocess.Popen(
                [sys.executable, "-m", "candlewick", "--config", str(config), "run"],
                env=env,
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            return cls(proc)

    yield Factory
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
