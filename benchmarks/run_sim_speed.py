"""Monte Carlo speed: 1,000 runs of a 512-GPU, 30-day plan (Llama 3 failure rate, Young/Daly interval).

Usage: python benchmarks/run_sim_speed.py   (prints wall time and the P10/P50/P90 days)
"""
from __future__ import annotations

import time

import numpy as np

from estimators.units import SECONDS_PER_DAY
from sim.run_sim import RunInputs, simulate_runs

RUNS = 1000
PLAN_DAYS = 30


def main() -> None:
    inp = RunInputs(work_s=PLAN_DAYS * SECONDS_PER_DAY, num_gpus=512)
    start = time.perf_counter()
    walls = simulate_runs(inp, RUNS, seed=0)
    elapsed = time.perf_counter() - start
    p10, p50, p90 = np.percentile(walls / SECONDS_PER_DAY, [10, 50, 90])
    print(f"{RUNS} runs of a 512-GPU {PLAN_DAYS}-day plan in {elapsed:.2f} s; wall clock P10/P50/P90 = {p10:.2f}/{p50:.2f}/{p90:.2f} days")


if __name__ == "__main__":
    main()
