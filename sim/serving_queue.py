"""A fleet of serving replicas simulated request by request, to cross-check the M/D/c formula
(estimators/serving/queueing.py) and to run the batching policy the formula only approximates.

Requests arrive as a Poisson process (seeded) and are served first come, first served. A replica serving
``batch`` requests at a time batches step by step (a request joins the running batch at its next
denoising step, as iteration-level schedulers do) and every request holds its place for ``service_s``,
the time of a full batch: the replicas are replicas x batch places, each taken by the oldest waiting
request when it frees. The first WARMUP_FRACTION of requests are left out of the percentiles (the fleet
starts empty).
"""
from __future__ import annotations

import heapq

import numpy as np

from estimators.errors import PlanInputError
from estimators.serving.queueing import fleet_percentiles
from estimators.serving.results import QueueCheck

WARMUP_FRACTION = 0.1
MAX_REQUESTS = 2_000_000  # about 4 s here
QUANTILES = (50, 95, 99)


def simulate_latencies(rate_per_s: float, replicas: int, batch: int, service_s: float, requests: int, seed: int = 0) -> np.ndarray:
    """Latency (arrival to finish) of every request after the warm-up."""
    if not 1 <= requests <= MAX_REQUESTS:
        raise PlanInputError(f"requests={requests}: expected 1 to {MAX_REQUESTS:,}")
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / rate_per_s, requests))
    latencies = np.empty(requests)
    free = [0.0] * (replicas * batch)
    for i, arrival in enumerate(arrivals):
        start = max(heapq.heappop(free), arrival)
        heapq.heappush(free, start + service_s)
        latencies[i] = start + service_s - arrival
    return latencies[int(requests * WARMUP_FRACTION):]


def check_fleet(rate_per_s: float, replicas: int, batch: int, service_s: float, requests: int, seed: int = 0) -> QueueCheck:
    """Simulated against formula percentiles of one fleet."""
    simulated = np.percentile(simulate_latencies(rate_per_s, replicas, batch, service_s, requests, seed), QUANTILES)
    formula = fleet_percentiles(rate_per_s, replicas, batch, service_s)
    return QueueCheck(requests=requests, seed=seed, simulated_p50_s=float(simulated[0]), simulated_p95_s=float(simulated[1]),
                      simulated_p99_s=float(simulated[2]), formula_p50_s=formula[0.5], formula_p95_s=formula[0.95],
                      formula_p99_s=formula[0.99], p95_difference=float(simulated[1]) / formula[0.95] - 1)
