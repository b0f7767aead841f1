"""Where a running daemon's peak memory goes: the import floor of each dependency, then the rest.

``benchmarks/lean_path.py`` compares VmHWM with the minimal collector's; this script says what
the difference buys. It runs ``candlewick run`` (SQLite, the lean-path load against the fake
exchange) under ``python -X importtime`` to learn exactly which modules a running daemon
imports, and its VmHWM. Then, in a fresh interpreter, it imports those same modules group by
group (the minimal collector's own imports first) and prints the resident set after each group:

- python: the bare interpreter;
- the minimal collector's imports: asyncio, json, sqlite3, websockets' asyncio client;
- then anyio, msgspec, pluggy with ``importlib.metadata`` (third-party plugins), pydantic and
  pydantic-settings (validated configuration), httpx (REST), trio when measured, candlewick's
  own modules, and the remaining standard library.

The last row is the running daemon's VmHWM: what it holds beyond its code (markets, buffers,
thread stacks, SQLite's page cache, the fake's load).

Usage: python benchmarks/memory_floor.py [--backend asyncio|trio] [--warmup 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lean_path import COINS, stop, vm_hwm, write_config
from soak_support import MiB

from candlewick.testing import FakeExchange

#: Import groups in the order they are measured: (label, top-level packages).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("anyio", ("anyio", "sniffio", "idna", "exceptiongroup")),
    ("msgspec", ("msgspec",)),
    ("pluggy, importlib.metadata", ("pluggy", "importlib", "zipfile", "email", "csv")),
    ("pydantic", ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions")),
    ("pydantic-settings", ("pydantic_settings", "dotenv", "argparse", "tomllib")),
    ("httpx", ("httpx", "httpcore", "h11", "h2", "hpack", "hyperframe", "certifi", "ssl")),
    ("trio", ("trio", "outcome", "sortedcontainers", "attr", "attrs")),
    ("candlewick", ("candlewick",)),
)
#: Modules the daemon keeps out although a dependency would import them: httpx's command-line
#: client (click, rich, pygments), h2 and, on asyncio, trio (httpcore imports both when installed).
KEPT_OUT = ("httpx._main", "h2", "trio")
MINIMAL = ("asyncio", "contextlib", "json", "sqlite3", "dataclasses", "websockets.asyncio.client")

PROBE = r"""
import importlib, json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
plan, absent = json.loads(sys.stdin.read())
for name in absent:  # what the daemon keeps out (candlewick.plugins.hyperliquid, commands.run)
    sys.modules[name] = None
print(json.dumps(["python", rss(), 0]), flush=True)
for label, modules in plan:
    failed = 0
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            failed += 1
    print(json.dumps([label, rss(), failed]), flush=True)
"""


async def daemon_modules(backend: str, warmup: float) -> tuple[list[str], int]:
    """Modules a running daemon imported (in order) and its VmHWM after ``warmup`` seconds."""
    async with FakeExchange(seed=13, coins=COINS, push_interval=0.05) as ex:
        with tempfile.TemporaryDirectory(prefix="cw-floor-") as tmp:
            workdir = Path(tmp)
            config = workdir / "candlewick.toml"
            write_config(config, ex, workdir, backend)
            argv = [sys.executable, "-X", "importtime", "-m", "candlewick", "--config", str(config), "run"]
            with (workdir / "stderr").open("wb") as err:
                proc = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=err)
                await anyio.sleep(warmup)
                peak = vm_hwm(proc.pid)
                await stop(proc)
            names = []
            for line in (workdir / "stderr").read_text().splitlines():
                if line.startswith("import time:") and "|" in line and "cumulative" not in line:
                    names.append(line.rsplit("|", 1)[1].strip())
    if not names:
        raise RuntimeError("the daemon printed no -X importtime lines")
    return names, peak


def plan(names: list[str], backend: str) -> list[tuple[str, list[str]]]:
    """The daemon's modules split into the measured groups, in import order within each."""
    taken: set[str] = set()
    out: list[tuple[str, list[str]]] = [("minimal collector's imports", list(MINIMAL))]
    for label, tops in GROUPS:
        if label == "trio" and backend != "trio":
            continue
        group = [n for n in names if n.split(".")[0] in tops and n not in taken]
        taken.update(group)
        out.append((label, group))
    out.append(("the rest of the standard library", [n for n in names if n not in taken]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    p.add_argument("--warmup", type=float, default=8.0, help="seconds of load before VmHWM is read (8)")
    args = p.parse_args()
    names, peak = anyio.run(daemon_modules, args.backend, args.warmup)
    # -X importtime lists these too: the daemon's attempt to import them failed on purpose.
    absent = [name for name in KEPT_OUT if not (name == "trio" and args.backend == "trio")]
    names = [n for n in names if n not in absent]
    groups = plan(names, args.backend)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], input=json.dumps([groups, absent]), capture_output=True, text=True, check=True
    )
    rows = [json.loads(line) for line in probe.stdout.splitlines()]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"candlewick run ({args.backend}, SQLite, {len(COINS)} perps x 1m, 5m) imports {len(names)} modules; {when}")
    print(f"\n{'resident set after importing':<36} {'MB':>7} {'+MB':>7} {'modules':>8}")
    previous = 0
    counts = {label: len(mods) for label, mods in groups}
    floor = 0
    for label, rss, failed in rows:
        note = f" ({failed} not importable alone)" if failed else ""
        print(f"{label:<36} {rss / MiB:>7.1f} {(rss - previous) / MiB if previous else 0:>7.1f} "
              f"{counts.get(label, 0):>8}{note}")  # fmt: skip
        if label == "minimal collector's imports":
            floor = rss
        previous = rss
    print(f"{'running daemon, VmHWM':<36} {peak / MiB:>7.1f} {(peak - previous) / MiB:>7.1f}")
    print(f"\nabove the minimal collector's import floor: {(peak - floor) / MiB:.1f} MB "
          f"(imports {(previous - floor) / MiB:.1f} MB, running state {(peak - previous) / MiB:.1f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
