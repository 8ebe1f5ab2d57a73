"""The collective model against published nccl-tests all-reduce bus bandwidths (data/collectives/published.yaml).

Prints, for each published measurement, the bus bandwidth the model times an 8 GiB all-reduce at on that
topology (the algorithm NCCL's tuning model picks, on the GPU kind's published per-tier figures) and the
ratio to the measurement. tests/test_collectives_nccl.py holds the same comparisons to 15%.

Usage: python -m benchmarks.collectives_vs_published
"""
from __future__ import annotations

import numpy as np
import yaml

from estimators.catalog.files import DATA_DIR
from estimators.catalog.gpus import load_gpu
from estimators.time.comm import ALGORITHMS, Fabric, bus_bandwidth, collective_time

MESSAGE_BYTES = 8 * 2**30


def main() -> None:
    measurements = yaml.safe_load((DATA_DIR / "collectives" / "published.yaml").read_text())["measurements"]
    print(f"{'GPU':10s} {'nodes':>6s} {'GPUs':>6s} {'published':>10s} {'model':>8s} {'ratio':>7s}  algorithm  independent")
    for m in measurements:
        gpu = load_gpu(m["gpu"])
        fabric = Fabric.of(gpu, None)
        for nodes in np.atleast_1d(m["nodes"]):
            ranks = int(nodes) * m["gpus_per_node"]
            local = min(m["gpus_per_node"], fabric.domain)
            timed = collective_time("all_reduce", MESSAGE_BYTES, ranks, local, fabric)
            busbw = float(bus_bandwidth("all_reduce", MESSAGE_BYTES, ranks, timed.seconds))
            print(f"{gpu.name:10s} {int(nodes):6d} {ranks:6d} {m['busbw'] / 1e9:8.1f} G {busbw / 1e9:6.1f} G {busbw / m['busbw']:7.3f}  "
                  f"{ALGORITHMS[int(timed.algorithm)]:9s}  {m['independent']}")


if __name__ == "__main__":
    main()
