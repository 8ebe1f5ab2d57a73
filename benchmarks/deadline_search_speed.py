"""How fast the deadline/budget search is: four GPU kinds x every searched cluster size x every layout.

Usage: python benchmarks/deadline_search_speed.py   (prints the wall time of the search, best of 3 runs)
"""
from __future__ import annotations

import time

from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.planning.fleet import DEFAULT_MAX_GPUS, FleetQuery, answer
from estimators.planning.request import PlanRequest
from estimators.specs.hardware import Cluster
from estimators.specs.workload import TrainingStage, Workload

REPEATS = 3
KINDS = ("H100", "H200", "B200", "A100")
DEADLINE_DAYS = 3.0


def main() -> None:
    kinds = tuple(load_gpu(k) for k in KINDS)
    stage = TrainingStage(height=480, width=848, frames=163, text_tokens=256, num_clips=10_000_000, epochs=1, global_batch=512)
    request = PlanRequest(system=load_model("mochi-10b"), workload=Workload(stages=(stage,)), cluster=Cluster(gpu=kinds[0], num_gpus=8))
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = answer(request, kinds, FleetQuery(deadline_days=DEADLINE_DAYS, max_gpus=DEFAULT_MAX_GPUS))
        best = min(best, time.perf_counter() - start)
    print(f"deadline {DEADLINE_DAYS:g} days, {', '.join(KINDS)} up to {DEFAULT_MAX_GPUS} GPUs: "
          f"{result.query.plans_evaluated} plans (every layout of each) and the chosen plan in {best:.2f} s; choice "
          f"{result.choice.num_gpus} x {result.choice.gpu}")


if __name__ == "__main__":
    main()
