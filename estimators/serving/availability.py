"""Spare replicas so that enough replicas are up with the availability asked for.

A replica of g GPUs fails when any of its GPUs does (rate g x f a GPU-hour) and is back after the repair
time R, so it is down a share u = g f R / (1 + g f R) of the time (an alternating renewal process), and
replicas fail independently. With n replicas needed for the load, k spares are enough when
P(at least n of n + k are up) = sum_{j >= n} C(n+k, j) (1-u)^j u^(n+k-j) >= the availability target.
"""
from __future__ import annotations

import math

from estimators.specs.serving import Reliability
from estimators.units import SECONDS_PER_HOUR

MAX_SPARES = 10_000


def replica_unavailability(gpus: int, reliability: Reliability) -> float:
    """Share of time a replica of ``gpus`` GPUs is down."""
    down = gpus * reliability.failures_per_gpu_hour * reliability.repair_s / SECONDS_PER_HOUR
    return down / (1 + down)


def _log_binomial_pmf(n: int, j: int, p_up: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * math.log(p_up) + (n - j) * math.log1p(-p_up)


def probability_enough_up(total: int, needed: int, unavailability: float) -> float:
    """P(at least ``needed`` of ``total`` replicas up)."""
    if unavailability <= 0:
        return 1.0
    p_up = 1 - unavailability
    return min(1.0, sum(math.exp(_log_binomial_pmf(total, j, p_up)) for j in range(needed, total + 1)))


def spares_needed(needed: int, gpus: int, availability: float, reliability: Reliability) -> int:
    """Fewest spare replicas that keep ``needed`` replicas up with probability ``availability``."""
    u = replica_unavailability(gpus, reliability)
    for spares in range(MAX_SPARES + 1):
        if probability_enough_up(needed + spares, needed, u) >= availability:
            return spares
    return MAX_SPARES
