"""The cheapest fleet for a demand: for every GPU kind, replica size and batch, the fewest replicas whose
latency at the asked percentile meets the target at the busiest hour (serving/queueing.py), spares for the
availability target (serving/availability.py), GPU-hours, cost, energy; the cheapest a clip wins.

The fleet is sized for the busiest hour and kept all day (``gpu_hours_per_day``); what an autoscaler that
follows each hour's rate would use is shown beside it (``autoscaled_gpu_hours_per_day``), not chosen on:
a replica of a 10-30 GB model takes minutes to load.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from estimators.errors import PlanInputError
from estimators.serving.availability import spares_needed
from estimators.serving.queueing import MAX_UTILIZATION, fleet_percentiles
from estimators.serving.results import FleetOption, ReplicaOption
from estimators.specs.hardware import GPUSpec
from estimators.specs.serving import Demand, Reliability
from estimators.units import SECONDS_PER_HOUR, WATTS_PER_KILOWATT

HOURS_PER_DAY = 24
JOULES_PER_KWH = 3.6e6
MAX_REPLICAS = 1_000_000
QUANTILES = {50: 0.5, 95: 0.95, 99: 0.99}


def minimum_stable_replicas(rate_per_s: float, service_s: float, batch: int) -> int:
    """Fewest replicas keeping utilisation at most MAX_UTILIZATION."""
    return max(1, math.ceil(rate_per_s * service_s / batch / MAX_UTILIZATION))


def _meets(rate_per_s: float, replicas: int, batch: int, service_s: float, q: float, target_s: float) -> bool:
    return fleet_percentiles(rate_per_s, replicas, batch, service_s, (q,))[q] <= target_s


@lru_cache(maxsize=4096)
def replicas_for_target(rate_per_s: float, service_s: float, batch: int, q: float, target_s: float) -> Optional[int]:
    """Fewest replicas whose q-latency is within the target (None: one clip alone takes longer)."""
    if service_s > target_s:
        return None
    low = minimum_stable_replicas(rate_per_s, service_s, batch)
    if _meets(rate_per_s, low, batch, service_s, q, target_s):
        return low
    high = low * 2
    while not _meets(rate_per_s, high, batch, service_s, q, target_s):
        high *= 2
        if high > MAX_REPLICAS:
            raise PlanInputError(f"more than {MAX_REPLICAS:,} replicas would be needed")
    while high - low > 1:
        mid = (low + high) // 2
        if _meets(rate_per_s, mid, batch, service_s, q, target_s):
            high = mid
        else:
            low = mid
    return high


@dataclass(frozen=True)
class Sized:
    """Replicas for the load (None: the target cannot be met) and the percentiles they give."""

    replicas: int
    meets: bool
    percentiles: dict[float, float]


def size_fleet(rate_per_s: float, service_s: float, batch: int, demand: Demand) -> Sized:
    """Replicas for the busiest hour: enough for the target, or (when unreachable) the fewest stable ones."""
    q = QUANTILES[demand.percentile]
    needed = replicas_for_target(rate_per_s, service_s, batch, q, demand.latency_target_s)
    replicas = needed if needed is not None else minimum_stable_replicas(rate_per_s, service_s, batch)
    return Sized(replicas, needed is not None, fleet_percentiles(rate_per_s, replicas, batch, service_s))


def autoscaled_replicas(demand: Demand, service_s: float, batch: int, gpus: int, reliability: Reliability) -> float:
    """Replica-hours a day when every hour gets the replicas its own rate needs (and its spares)."""
    total = 0
    for rate in demand.hourly_rates_per_s():
        if rate == 0:
            continue
        load = size_fleet(rate, service_s, batch, demand).replicas
        total += load + spares_needed(load, gpus, demand.availability, reliability)
    return total


def fleet_option(option: ReplicaOption, gpu: GPUSpec, demand: Demand, reliability: Reliability, clip_seconds: float,
                 service_s: Optional[float] = None) -> FleetOption:
    """The fleet of ``option``'s replicas for the demand; ``clip_seconds`` of video a clip, ``service_s``
    overrides the option's service time (for ranges)."""
    service = service_s if service_s is not None else option.service_s
    peak_rate = demand.clips_per_hour * demand.peak_factor / SECONDS_PER_HOUR
    sized = size_fleet(peak_rate, service, option.batch, demand)
    spares = spares_needed(sized.replicas, option.gpus, demand.availability, reliability)
    replicas = sized.replicas + spares
    gpu_hours = replicas * option.gpus * HOURS_PER_DAY
    autoscaled = autoscaled_replicas(demand, service, option.batch, option.gpus, reliability) * option.gpus
    price = gpu.price_usd_per_gpu_hour.value
    clips_per_day = demand.clips_per_hour * HOURS_PER_DAY
    cost_per_clip = gpu_hours * price / clips_per_day
    power_kw = (gpu.board_power_w.value or 0.0) / WATTS_PER_KILOWATT
    q = QUANTILES[demand.percentile]
    return FleetOption(
        gpu=gpu.name, gpus_per_replica=option.gpus, batch=option.batch, split=option.split, placement=option.placement,
        service_s=service, replicas=replicas, replicas_for_load=sized.replicas, spare_replicas=spares,
        utilization=peak_rate * service / (sized.replicas * option.batch),
        p50_s=sized.percentiles[0.5], p95_s=sized.percentiles[0.95], p99_s=sized.percentiles[0.99],
        target_percentile_s=sized.percentiles[q], gpus=replicas * option.gpus, gpu_hours_per_day=gpu_hours,
        autoscaled_gpu_hours_per_day=autoscaled, cost_per_day_usd=gpu_hours * price, cost_per_clip_usd=cost_per_clip,
        cost_per_video_second_usd=cost_per_clip / clip_seconds,
        energy_per_clip_kwh=option.gpus * power_kw * service / option.batch / SECONDS_PER_HOUR,
        provisioned_energy_per_clip_kwh=gpu_hours * power_kw / clips_per_day, usd_per_gpu_hour=price,
        why_not="" if sized.meets else f"misses the p{demand.percentile} target: one clip alone takes {service:,.0f} s (> {demand.latency_target_s:,.0f} s)",
    )

