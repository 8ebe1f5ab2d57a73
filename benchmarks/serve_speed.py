"""How fast `plan serve` answers the issue's demand: Wan 2.1 14B at 720p, 600 clips an hour, p95 within
600 s, on H100, H200 and B200 (every replica size, split and placement timed, every fleet sized).

Usage: python benchmarks/serve_speed.py   (prints the wall time of a fresh search and of the queue
simulation that checks its choice; a fresh process each run, so no memoised rate is reused)
"""
from __future__ import annotations

import subprocess
import sys
import time

REPEATS = 3
COMMAND = [sys.executable, "-m", "plan_cli.main", "serve", "--model", "wan2.1-t2v-14b", "--clips-per-hour", "600", "--p95-s", "600",
           "--gpus", "H100,H200,B200", "--json"]


def main() -> None:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(COMMAND, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    print(f"plan serve, Wan 2.1 14B 720p, 600 clips/h, p95 <= 600 s, H100/H200/B200: {best:.1f} s "
          f"(best of {REPEATS}, a fresh process each: interpreter start, search, simulation and JSON)")


if __name__ == "__main__":
    main()
