"""Control socket throughput and the cost of the stats stream.

Runs a real daemon (the in-process test plugin: one source with two markets, a write-through
buffer, a memory sink, and the control server) in a child process, then measures from this
process:

- ``hello`` and ``status`` requests/s over one connection, one call at a time and with 16
  calls in flight, and across 50 connections at once (baseline: ``hello`` over one
  connection, sequential);
- the daemon's CPU (``/proc/<pid>/task/*/schedstat``) per second with 0, 1, 10 and 100 clients subscribed
  to ``stats`` (one notification per second each), and per subscribed client.

Usage: python benchmarks/control.py [--backend asyncio|trio] [--seconds N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the benchmark reuses the test plugin from tests/


def serve(socket: Path, backend: str) -> None:
    """Child process: run the daemon until SIGTERM."""
    from tests.supervisor.control.conftest import make_daemon

    daemon = make_daemon(socket.parent, socket)
    sys.exit(anyio.run(daemon.run, backend=backend))


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` (``schedstat``: nanoseconds, not clock ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


async def rate_one(socket: Path, method: str, seconds: float, inflight: int = 1) -> float:
    from candlewick.control.client import ControlClient

    done = 0
    async with ControlClient.connect(socket) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await client.call(method)
                done += 1

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(inflight):
                tg.start_soon(worker)
        return done / (time.perf_counter() - start)


async def rate_many(socket: Path, method: str, seconds: float, clients: int) -> float:
    from candlewick.control.client import ControlClient

    done = 0
    ready = anyio.Event()
    connected = 0

    async def one() -> None:
        nonlocal done, connected
        async with ControlClient.connect(socket, timeout=30) as client:
            connected += 1
            if connected == clients:
                ready.set()
            await ready.wait()
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                await client.call(method)
                done += 1

    start = 0.0
    async with anyio.create_task_group() as tg:
        for _ in range(clients):
            tg.start_soon(one)
        await ready.wait()
        start = time.perf_counter()
    return done / (time.perf_counter() - start)


async def stats_cpu(socket: Path, pid: int, subscribers: int, seconds: float) -> tuple[float, int]:
    """Daemon CPU seconds per second while ``subscribers`` clients receive stats; notes received."""
    from candlewick.control.client import ControlClient

    received = 0
    ready = anyio.Event()
    stop = anyio.Event()
    connected = 0

    async def one() -> None:
        nonlocal received, connected
        async with ControlClient.connect(socket, timeout=30) as client:
            await client.subscribe(["stats"])
            connected += 1
            if connected == subscribers:
                ready.set()
            with anyio.move_on_after(seconds + 5):
                async for _ in client.notifications():
                    received += 1
                    if stop.is_set():
                        break

    async with anyio.create_task_group() as tg:
        if subscribers:
            for _ in range(subscribers):
                tg.start_soon(one)
            await ready.wait()
        await anyio.sleep(1.0)  # let the first (immediate) notifications pass
        received = 0
        before, t0 = cpu_seconds(pid), time.perf_counter()
        await anyio.sleep(seconds)
        used, elapsed = cpu_seconds(pid) - before, time.perf_counter() - t0
        stop.set()
        tg.cancel_scope.cancel()
    return used / elapsed, received


async def measure(socket: Path, pid: int, seconds: float) -> None:
    cases: list[tuple[str, Callable[[], Awaitable[float]]]] = [
        ("hello, 1 connection, sequential (baseline)", lambda: rate_one(socket, "hello", seconds)),
        ("status, 1 connection, sequential", lambda: rate_one(socket, "status", seconds)),
        ("status, 1 connection, 16 in flight", lambda: rate_one(socket, "status", seconds, inflight=16)),
        ("status, 50 connections", lambda: rate_many(socket, "status", seconds, clients=50)),
    ]
    rows: list[tuple[str, float, float]] = []
    for name, run in cases:
        before = cpu_seconds(pid)
        rate = await run()
        rows.append((name, rate, (cpu_seconds(pid) - before) / (rate * seconds) * 1e6))
    base = rows[0][1]
    # Daemon CPU per request is what the daemon pays; req/s also depends on the client and load.
    print(f"{'requests':<46} {'req/s':>9} {'x baseline':>11} {'daemon CPU us/req':>18}")
    for name, rate, cpu_us in rows:
        print(f"{name:<46} {rate:>9.0f} {rate / base:>11.2f} {cpu_us:>18.0f}")

    print()
    print(f"{'stats stream':<16} {'daemon CPU %':>13} {'notes/s':>8} {'CPU us/s per client':>20} {'x 1 client':>11}")
    idle, _ = await stats_cpu(socket, pid, 0, seconds)
    print(f"{'idle daemon':<16} {idle * 100:>13.3f} {0:>8.0f} {'-':>20} {'-':>11}")
    one = 0.0
    for n in (1, 10, 100):
        cpu, notes = await stats_cpu(socket, pid, n, seconds)
        added = max(cpu - idle, 0.0)
        one = one or added
        per_client_us = added / n * 1e6
        ratio = added / one if one else float("nan")
        label = f"{n} subscribers"
        print(f"{label:<16} {cpu * 100:>13.3f} {notes / seconds:>8.1f} {per_client_us:>20.1f} {ratio:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio", help="the daemon's backend")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each measurement")
    parser.add_argument("--serve", metavar="SOCKET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve), args.backend)
        return
    with tempfile.TemporaryDirectory(prefix="cw-bench-", dir="/tmp") as tmp:
        socket = Path(tmp) / "control.sock"
        cmd = [sys.executable, __file__, "--serve", str(socket), "--backend", args.backend]
        proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while not socket.exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the daemon did not start")
                time.sleep(0.05)
            time.sleep(0.5)
            print(f"daemon on {args.backend}, client on asyncio, {os.cpu_count()} CPUs, {args.seconds:g}s per row\n")
            anyio.run(measure, socket, proc.pid, args.seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
