"""Choosing among fleets: each GPU kind's replica sizes and batches as fleets for the demand, the cheapest a
clip that meets it, why every other loses, and the choice's figures at the ends of the service-time and
price ranges (built as training's ranges are: time/uncertainty.py)."""
from __future__ import annotations

from typing import Optional

from estimators.results import Range
from estimators.serving.demand import fleet_option
from estimators.serving.queueing import MAX_UTILIZATION, fleet_percentiles
from estimators.serving.results import FleetOption, FleetRanges, ReplicaOption
from estimators.specs.hardware import GPUSpec
from estimators.specs.serving import Demand, Reliability
from estimators.time.uncertainty import step_factors


def meets(option: FleetOption) -> bool:
    return not option.why_not


def best_per_size(options: list[FleetOption]) -> list[FleetOption]:
    """For each (kind, replica size), its cheapest batch among those meeting the demand (else its fastest)."""
    grouped: dict[tuple[str, int], list[FleetOption]] = {}
    for o in options:
        grouped.setdefault((o.gpu, o.gpus_per_replica), []).append(o)
    chosen = []
    for group in grouped.values():
        meeting = [o for o in group if meets(o)]
        chosen.append(min(meeting, key=lambda o: (o.cost_per_clip_usd, o.target_percentile_s)) if meeting
                      else min(group, key=lambda o: o.service_s))
    return sorted(chosen, key=lambda o: (o.gpu, o.gpus_per_replica))


def judge(options: list[FleetOption], choice: Optional[FleetOption]) -> list[FleetOption]:
    """Every option with why it is not the choice."""
    judged = []
    for o in options:
        if o is choice:
            judged.append(o.judged("the choice"))
        elif not meets(o) or choice is None:
            judged.append(o)
        else:
            more = o.cost_per_clip_usd - choice.cost_per_clip_usd
            judged.append(o.judged(f"costs ${more:,.4f} more a clip ({o.cost_per_clip_usd / choice.cost_per_clip_usd - 1:+.1%}) than the choice"
                                   if more > 0 else "as cheap as the choice, slower at the percentile"))
    return judged


def fleet_ranges(choice: FleetOption, option: ReplicaOption, gpu: GPUSpec, demand: Demand, reliability: Reliability,
                 clip_seconds: float) -> FleetRanges:
    """The choice re-sized with its service time at the low and high ends of its range, costed at the
    low and high prices."""
    factors = step_factors(extrapolating=True, gpu_name=gpu.name)
    low_s, high_s = choice.service_s * factors.low, choice.service_s * factors.high
    low = fleet_option(option, gpu, demand, reliability, clip_seconds, low_s)
    high = fleet_option(option, gpu, demand, reliability, clip_seconds, high_s)
    price = gpu.price_usd_per_gpu_hour
    price_low, price_high = price.low or price.value, price.high or price.value
    basis = f"service time {factors.basis}; prices ${price_low:.2f}-{price_high:.2f}/GPU-hour"
    p95 = None
    rate = demand.clips_per_hour * demand.peak_factor / 3_600
    if rate * high_s / (choice.replicas_for_load * choice.batch) < MAX_UTILIZATION:
        p95 = Range(low=fleet_percentiles(rate, choice.replicas_for_load, choice.batch, low_s, (0.95,))[0.95],
                    high=fleet_percentiles(rate, choice.replicas_for_load, choice.batch, high_s, (0.95,))[0.95],
                    basis="the chosen replicas with the service time at the ends of its range")
    scale_low, scale_high = low.gpu_hours_per_day / choice.gpu_hours_per_day, high.gpu_hours_per_day / choice.gpu_hours_per_day
    return FleetRanges(
        service_s=factors.span(choice.service_s), replicas=(low.replicas, high.replicas), p95_s_at_chosen_fleet=p95,
        cost_per_clip_usd=Range(low=choice.cost_per_clip_usd * scale_low * price_low / price.value,
                                high=choice.cost_per_clip_usd * scale_high * price_high / price.value, basis=basis),
        cost_per_video_second_usd=Range(low=choice.cost_per_video_second_usd * scale_low * price_low / price.value,
                                        high=choice.cost_per_video_second_usd * scale_high * price_high / price.value, basis=basis),
        gpu_hours_per_day=Range(low=low.gpu_hours_per_day, high=high.gpu_hours_per_day,
                                basis="replicas re-sized with the service time at the ends of its range"),
        energy_per_clip_kwh=Range(low=low.energy_per_clip_kwh, high=high.energy_per_clip_kwh, basis="busy GPU-seconds x board power"),
    )


def answer_text(demand: Demand, choice: Optional[FleetOption], nearest: Optional[FleetOption]) -> str:
    """One paragraph: what was asked and the answer."""
    asked = (f"p{demand.percentile} within {demand.latency_target_s:,.0f} s at {demand.clips_per_hour:,.0f} clips an hour"
             + (f" (busiest hour {demand.clips_per_hour * demand.peak_factor:,.0f})" if demand.peak_factor > 1 else "")
             + f", {demand.availability * 100:.6g}% available")
    if choice is None:
        near = nearest
        return (f"No fleet searched meets {asked}. Nearest: {near.replicas} x {near.gpus_per_replica} {near.gpu} "
                f"({near.split}), one clip alone {near.service_s:,.0f} s.")
    c = choice
    return (f"The cheapest fleet meeting {asked}: {c.replicas} replicas of {c.gpus_per_replica} x {c.gpu} ({c.split}, batch {c.batch}; "
            f"{c.spare_replicas} spare), p{demand.percentile} {c.target_percentile_s:,.0f} s, ${c.cost_per_clip_usd:,.2f} a clip "
            f"(${c.cost_per_video_second_usd:,.3f} a second of video), {c.gpu_hours_per_day:,.0f} GPU-hours a day.")
