"""Kill -9 a daemon holding data in its spool, start it again, and check nothing was lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from candlewick.plugins.memory_buffer import spool_format as fmt

ROOT = Path(__file__).resolve().parents[3]


def start_daemon(settings: dict[str, Any], log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDLEWICK_")}
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "tests.plugins.storage.daemon_child", json.dumps(settings, default=str)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def spooled_candles(spool_dir: Path) -> int:
    """Candles in the valid records of a spool directory (read straight off disk)."""
    total = 0
    for segment in spool_dir.glob("seg-*.cwspool"):
        data = segment.read_bytes()
        for record in fmt.scan(data).records:
            start = record.offset + fmt.HEADER.size
            total += len(fmt.decode_batch(data[start : record.offset + record.size]))
    return total


def wait_for(predicate: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"the daemon exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out; daemon log:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(10) == -signal.SIGKILL


def stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    assert code == 0, log.read_text()[-3000:]
