"""The dashboard's cost: start to first full paint, CPU while attached to a busy daemon, RSS.

Targets: first full paint <= 1 s; CPU <= 3% of a core attached to a busy daemon; RSS small.

The dashboard runs as users run it: its own process on a real terminal (a pseudo-terminal
of 80x24 whose output this script drains and counts, like an SSH session would carry it),
attached over the real control socket to a real daemon in this process. The daemon is
busy: the dashboard tests' in-process feed follows many markets (a frame per market every
50 ms), events are published ten times a second and a backfill job progresses.

Baselines in the same run: an empty Textual app (first paint) and the dashboard on its
disconnected screen (idle CPU). Run from the repository root:

    python benchmarks/tui.py [--seconds 15] [--markets 20]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import shutil
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


async def busy_daemon(socket: Path, data_dir: Path, markets: int, task_status: Any) -> None:
    import anyio

    sys.path.insert(0, str(ROOT))
    from tests.tui.conftest import make_daemon, wait_running

    daemon = make_daemon(data_dir, socket)
    coins = ["SOL", "DOGE", "AVAX", "LINK", "ARB", "OP", "SUI", "APT", "INJ", "TIA", "SEI", "WIF", "PEPE", "ENA"]
    intervals = ["1m", "5m", "15m", "1h"]
    async with anyio.create_task_group() as tg:
        await tg.start(lambda task_status: daemon.run(task_status=task_status, signals=False))
        await wait_running(daemon)
        feed: Any = daemon.components["feed"]
        extra = [(c, iv) for iv in intervals for c in coins][: max(0, markets - len(feed.markets()))]
        for coin, iv in extra:
            await feed.add_market(coin, iv)
        await feed.backfill_start("BTC", ["1h"], 3650)

        async def chatter() -> None:
            n = 0
            while True:
                n += 1
                daemon.telemetry.publish("state", "feed", f"busy event {n}")
                await anyio.sleep(0.1)

        tg.start_soon(chatter)
        task_status.started(daemon)
        try:
            await anyio.sleep_forever()
        finally:
            daemon.request_shutdown("benchmark over")


async def run(args: argparse.Namespace) -> list[Result]:
    import anyio

    workdir = Path(tempfile.mkdtemp(prefix="cwbench-", dir="/tmp"))
    socket = workdir / "control.sock"
    results: list[Result] = []
    try:
        results.append(await measure("empty", "empty Textual app (baseline)", socket, workdir, 2.0, 0))
        results.append(
            await measure("offline", "dashboard, no daemon (idle baseline)", socket, workdir, 2.0, args.seconds)
        )
        async with anyio.create_task_group() as tg:
            await tg.start(busy_daemon, socket, workdir / "data", args.markets)
            for rate in (2.0, 10.0):
                label = f"dashboard, busy daemon, {rate:g} Hz" + (" (default)" if rate == 2.0 else "")
                results.append(await measure("dashboard", label, socket, workdir, rate, args.seconds))
            tg.cancel_scope.cancel()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def report(results: list[Result], markets: int) -> None:
    base_paint = results[0].first_paint
    idle = next(r for r in results if r.cpu_percent is not None)
    print(f"busy daemon: {markets} markets, 1 frame/market/50 ms, 10 events/s, 1 backfill job; terminal 80x24")
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
    print("targets: first full paint <= 1 s; CPU <= 3% of a core at the default rate")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, mark, socket, rate = sys.argv[2:6]
        child(kind, mark, socket, float(rate))
        return
    import anyio

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="CPU measuring window per case (default 15)")
    parser.add_argument("--markets", type=int, default=20, help="markets the busy daemon follows (default 20)")
    args = parser.parse_args()
    report(anyio.run(run, args), args.markets)


if __name__ == "__main__":
    main()
