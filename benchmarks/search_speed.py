"""How fast the layout search is: layouts evaluated per second and wall time, H100x512 and H100x8192.

Usage: python benchmarks/search_speed.py   (prints one line per cluster; the best of 3 runs)
"""
from __future__ import annotations

import time

from estimators.catalog.gpus import load_gpu
from estimators.catalog.models import load_model
from estimators.counts.problem import video_problem
from estimators.search.layout_search import search
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import RunSettings

REPEATS = 3


def main() -> None:
    system = load_model("mochi-10b")
    gpu = load_gpu("H100")
    for num_gpus, global_batch in ((512, 512), (8192, 8192)):
        stage = TrainingStage(height=480, width=848, frames=163, text_tokens=256, steps=1, global_batch=global_batch)
        settings = RunSettings.resolve(gpu, global_batch=global_batch)
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            prob = video_problem(system, stage, Workload(stages=(stage,)))
            result = search(prob, settings, num_gpus)
            best = min(best, time.perf_counter() - start)
        print(
            f"H100x{num_gpus} (global batch {global_batch}): {len(result):,} layouts in {best:.3f} s "
            f"= {len(result) / best:,.0f} layouts/s; {len(result.ranked):,} valid and fitting"
        )


if __name__ == "__main__":
    main()
