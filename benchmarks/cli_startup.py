"""`candlewick --help` wall time against a bare interpreter start (target: under 300 ms).

Usage: python benchmarks/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    cases = {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "candlewick --help": [sys.executable, "-m", "candlewick", "--help"],
        "candlewick --version": [sys.executable, "-m", "candlewick", "--version"],
    }
    results = {name: timed(cmd, args.runs) for name, cmd in cases.items()}
    base = statistics.median(results["python -c pass (baseline)"])
    print(f"{'command':<28} {'median ms':>10} {'p90 ms':>8} {'x baseline':>11}")
    for name, samples in results.items():
        med = statistics.median(samples)
        p90 = sorted(samples)[int(0.9 * (len(samples) - 1))]
        print(f"{name:<28} {med * 1000:>10.1f} {p90 * 1000:>8.1f} {med / base:>11.2f}")


if __name__ == "__main__":
    main()
