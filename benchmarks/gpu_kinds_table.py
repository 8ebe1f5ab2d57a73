"""Mochi's default workload on 512 GPUs of every bundled kind: the table the README quotes.

Each row is `plan estimate --gpus KINDx512` (10M clips of 163x480x848, global batch 512, defaults): the
chosen layout, step time with its range, MFU, days, cost and the attention kernel, so kinds compare on one
workload. Prints plain text; takes about a second a kind.

Usage: python -m benchmarks.gpu_kinds_table
"""
from __future__ import annotations

from estimators.catalog.gpus import gpu_catalogue
from estimators.catalog.models import load_model
from estimators.planning.estimate import plan
from estimators.planning.request import PlanRequest
from estimators.specs.hardware import Cluster
from estimators.specs.workload import TrainingStage, Workload

NUM_GPUS = 512
CLIPS = 10_000_000
GLOBAL_BATCH = 512


def main() -> None:
    system = load_model("mochi-10b")
    clip = system.default_clip
    stage = TrainingStage(height=clip.height, width=clip.width, frames=clip.frames, fps=clip.fps, text_tokens=clip.text_tokens,
                          num_clips=CLIPS, epochs=1.0, global_batch=GLOBAL_BATCH)
    workload = Workload(stages=(stage,))
    print(f"{'GPU':9s} {'layout':28s} {'step s':>7s} {'range':>14s} {'MFU':>6s} {'days':>6s} {'cost $':>9s}  kernel")
    for gpu in sorted({g.name: g for g in gpu_catalogue().values()}.values(), key=lambda g: g.name):
        result = plan(PlanRequest(system=system, workload=workload, cluster=Cluster(gpu=gpu, num_gpus=NUM_GPUS)))
        s, u = result.stages[-1], result.uncertainty.step_time_s
        lay = s.layout
        layout = f"tp{lay.tp} cp{lay.cp} pp{lay.pp} dp{lay.dp} z{lay.zero} {lay.recompute}"
        print(f"{gpu.name:9s} {layout:28s} {s.step_time_s:7.2f} {u.low:6.2f}-{u.high:6.2f} {s.mfu:6.1%} {result.train_time_days:6.2f} "
              f"{result.cost_usd:9,.0f}  {s.time_model.kernel}")


if __name__ == "__main__":
    main()
