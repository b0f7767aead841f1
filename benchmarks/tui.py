"""The dashboard's cost: start to first full paint, CPU while attached to a busy daemon, RSS.

Targets: first full paint <= 1 s; CPU <= 3% of a core attached to a busy daemon; RSS small.

Everything runs as users run it, each in its own process: ``candlewick simulate`` (the fake
exchange), ``candlewick run`` following every listed coin on four intervals with a 30-day
backfill job progressing, and the dashboard on a real terminal (a pseudo-terminal of 80x24
whose output this script drains and counts, as an SSH session would carry it), attached
over the control socket.

First paint is the median of several starts. Baselines in the same run: an empty Textual
app (first paint) and the dashboard on its disconnected screen (idle CPU). Run from the repository root:

    python benchmarks/tui.py [--seconds 15] [--launches 3] [--intervals 1m,5m,15m,1h]
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
WARMUP = 3.0
#: Seconds the daemon runs before the dashboards attach (start-up and the first backfill requests).
SETTLE = 5.0


# -- the child: an app that notes when its first full picture is on the terminal ---------------


def child(kind: str, mark: str, socket: str, rate: float) -> None:
    """Run one app on this process' terminal; write the wall time of the first full paint to ``mark``."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    def note() -> None:
        Path(mark).write_text(repr(time.time()))

    if kind == "empty":

        class Empty(App[None]):
            def compose(self) -> ComposeResult:
                yield Static("hello")

            def on_mount(self) -> None:
                self.call_after_refresh(note)

        Empty().run()
        return

    from candlewick.tui.app import CandlewickApp

    class Timed(CandlewickApp):
        noted = False

        def paint(self) -> None:
            super().paint()
            full = self.state.components and self.state.stats is not None and self.state.stats.markets
            if (full or kind == "offline") and not self.noted:
                self.noted = True
                self.call_after_refresh(note)

    Timed(Path(socket), refresh_rate=rate).run()


# -- the parent: a pty per child, drained and counted --------------------------------------------


@dataclass
class Terminal:
    proc: subprocess.Popen[bytes]
    master: int
    started: float
    written: int = 0

    def drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.written += len(data)


def spawn(kind: str, mark: Path, socket: Path, rate: float) -> Terminal:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    cmd = [sys.executable, __file__, "--child", kind, str(mark), str(socket), str(rate)]
    started = time.time()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT, start_new_session=True)
    os.close(slave)
    term = Terminal(proc, master, started)
    threading.Thread(target=term.drain, daemon=True).start()
    return term


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Result:
    name: str
    first_paint: float
    cpu_percent: float | None = None
    rss: float | None = None
    bytes_per_s: float | None = None


async def measure(kind: str, name: str, socket: Path, workdir: Path, rate: float, seconds: float) -> Result:
    import anyio

    mark = workdir / f"{kind}-{rate}.mark"
    mark.unlink(missing_ok=True)
    term = spawn(kind, mark, socket, rate)
    try:
        with anyio.fail_after(30):
            while not mark.exists() or not mark.read_text():  # noqa: ASYNC110 (another process writes it)
                await anyio.sleep(0.01)
        first = float(mark.read_text()) - term.started
        if seconds <= 0:
            return Result(name, first)
        await anyio.sleep(WARMUP)
        cpu0, wall0, out0 = cpu_seconds(term.proc.pid), time.monotonic(), term.written
        await anyio.sleep(seconds)
        wall = time.monotonic() - wall0
        cpu = (cpu_seconds(term.proc.pid) - cpu0) / wall * 100
        return Result(name, first, cpu, rss_mib(term.proc.pid), (term.written - out0) / wall)
    finally:
        term.proc.terminate()
        try:
            term.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            term.proc.kill()
            term.proc.wait()
        os.close(term.master)


# -- the busy daemon ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


CONFIG = """\
[sources.hyperliquid]
ws_url = "ws://127.0.0.1:{port}/ws"
rest_url = "http://127.0.0.1:{port}"
coins = {coins}
intervals = {intervals}
backfill_on_start = "none"

[sink]
use = "sqlite"

[sink.sqlite]
path = "{work}/candles.db"

[spool]
dir = "{work}/spool"

[control]
socket = "{socket}"

[daemon]
data_dir = "{work}/data"
"""


def start_stack(port: int, config: Path) -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
    """The fake exchange and the daemon, each in its own process, quiet."""
    candlewick = [sys.executable, "-m", "candlewick"]
    quiet = subprocess.DEVNULL
    exchange = subprocess.Popen([*candlewick, "simulate", "--port", str(port)], stdout=quiet, stderr=quiet)
    daemon = subprocess.Popen(
        [*candlewick, "--log-level", "warning", "-c", str(config), "run"], stdout=quiet, stderr=quiet
    )
    return exchange, daemon


async def busy_daemon(sock_path: Path, work: Path, intervals: list[str], task_status: Any) -> None:
    """``candlewick simulate`` and ``candlewick run`` as processes: every listed coin on ``intervals``."""
    import anyio

    from candlewick.control.client import ControlClient
    from candlewick.errors import ControlError
    from candlewick.testing import DEFAULT_COINS

    port = free_port()
    config = work / "candlewick.toml"
    coins = [c.name for c in DEFAULT_COINS]
    config.write_text(
        CONFIG.format(port=port, coins=json.dumps(coins), intervals=json.dumps(intervals), work=work, socket=sock_path)
    )
    exchange, daemon = start_stack(port, config)
    with exchange, daemon:
        try:
            with anyio.fail_after(60):
                while True:
                    try:
                        async with ControlClient.connect(sock_path) as client:
                            status = await client.call("status")
                            if all(c["state"] == "running" for c in status["components"]):
                                await client.call("backfill.start", {"coin": "BTC", "intervals": ["1m"], "days": 30})
                                break
                    except ControlError:
                        pass
                    await anyio.sleep(0.2)
            task_status.started(daemon.pid)
            await anyio.sleep_forever()
        finally:
            for proc in (daemon, exchange):
                proc.terminate()
                proc.wait(timeout=20)


async def case(kind: str, name: str, sock_path: Path, work: Path, rate: float, args: argparse.Namespace) -> Result:
    """Median first paint over ``--launches`` starts, then CPU, RSS and output over one window."""
    paints = [(await measure(kind, name, sock_path, work, rate, 0)).first_paint for _ in range(args.launches)]
    result = await measure(kind, name, sock_path, work, rate, args.seconds) if args.seconds > 0 else Result(name, 0)
    result.first_paint = statistics.median(paints)
    return result


async def run(args: argparse.Namespace) -> tuple[list[Result], float | None]:
    import anyio

    workdir = Path(tempfile.mkdtemp(prefix="cwbench-", dir="/tmp"))
    sock_path = workdir / "control.sock"
    results: list[Result] = []
    daemon_cpu = None
    try:
        no_window = argparse.Namespace(launches=args.launches, seconds=0)
        results.append(await case("empty", "empty Textual app (baseline)", sock_path, workdir, 2.0, no_window))
        results.append(await case("offline", "dashboard, no daemon (idle baseline)", sock_path, workdir, 2.0, args))
        async with anyio.create_task_group() as tg:
            daemon_pid = await tg.start(busy_daemon, sock_path, workdir, args.intervals.split(","))
            await anyio.sleep(SETTLE)
            cpu0, wall0 = cpu_seconds(daemon_pid), time.monotonic()
            for rate in (2.0, 10.0):
                label = f"dashboard, busy daemon, {rate:g} Hz" + (" (default)" if rate == 2.0 else "")
                results.append(await case("dashboard", label, sock_path, workdir, rate, args))
            daemon_cpu = (cpu_seconds(daemon_pid) - cpu0) / (time.monotonic() - wall0) * 100
            tg.cancel_scope.cancel()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results, daemon_cpu


def report(results: list[Result], daemon_cpu: float | None, intervals: str) -> None:
    base_paint = results[0].first_paint
    idle = next(r for r in results if r.cpu_percent is not None)
    from candlewick.testing import DEFAULT_COINS

    markets = len(DEFAULT_COINS) * len(intervals.split(","))
    print(
        f"busy daemon ('candlewick run' on 'candlewick simulate'): {markets} live markets"
        f" ({len(DEFAULT_COINS)} coins x {intervals}), a 30-day BTC 1m backfill running; terminal 80x24"
    )
    header = (
        f"{'case':<40} {'1st paint s':>11} {'x empty':>8} {'CPU %':>6} {'x idle':>7} {'RSS MiB':>8} {'term B/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cpu = "" if r.cpu_percent is None else f"{r.cpu_percent:.2f}"
        ratio = "" if r.cpu_percent is None or not idle.cpu_percent else f"{r.cpu_percent / idle.cpu_percent:.1f}"
        rss = "" if r.rss is None else f"{r.rss:.1f}"
        out = "" if r.bytes_per_s is None else f"{r.bytes_per_s:.0f}"
        paint = f"{r.first_paint:>11.3f} {r.first_paint / base_paint:>8.2f}"
        print(f"{r.name:<40} {paint} {cpu:>6} {ratio:>7} {rss:>8} {out:>9}")
    if daemon_cpu is not None:
        print(f"the daemon itself meanwhile: {daemon_cpu:.1f}% of a core")
    print("targets: first full paint <= 1 s; CPU <= 3% of a core at the default rate")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, mark, socket, rate = sys.argv[2:6]
        child(kind, mark, socket, float(rate))
        return
    import anyio

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="CPU measuring window per case (default 15)")
    parser.add_argument(
        "--launches", type=int, default=3, help="starts per case for the first-paint median (default 3)"
    )
    parser.add_argument(
        "--intervals", default="1m,5m,15m,1h", help="intervals followed for each of the fake exchange's coins"
    )
    args = parser.parse_args()
    results, daemon_cpu = anyio.run(run, args)
    report(results, daemon_cpu, args.intervals)


if __name__ == "__main__":
    main()
