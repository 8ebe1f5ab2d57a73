"""What a design reviewer reads first, derived from the plan and its companions (no new estimates): the
largest risks ranked by how far they could move days or cost, and what the back-test says about this
plan (which runs, in or out of sample).
"""
from __future__ import annotations

from typing import Optional

from estimators.calibration.backtest import BacktestResult
from estimators.documents.simulation import SimulationResult
from estimators.planning.results import Plan

# Memory headroom below this share of HBM leaves little room for allocator spikes or longer captions.
TIGHT_HEADROOM_FRACTION = 0.10


def validation_lines(backtest: BacktestResult, result: Plan) -> list[str]:
    """Which runs, in or out of sample, and what that implies for this plan's step time."""
    inside = [row.id for row in backtest.rows if row.in_sample]
    outside = [row.id for row in backtest.rows if not row.in_sample]
    attention = result.step_breakdown_s.attention_s / result.step_time_s
    return [
        f"Runs: {len(backtest.rows)} published training runs ({', '.join(row.id for row in backtest.rows)}).",
        f"In sample: {len(inside)} of them were used to fit the {result.cluster.gpu} device profile this plan uses"
        + (f"; out of sample: {', '.join(outside)}." if outside else "; none is out of sample."),
        f"MAPE {backtest.mape:.1%}, worst {backtest.max_abs_error:.1%} "
        + ("(in-sample: a fit quality, not a validation)." if not outside else "(in and out of sample together)."),
        f"Constant-MFU baseline on the same rows: MAPE {backtest.baseline.mape:.1%}.",
        (f"Leave-one-source-out MAPE {backtest.cv.mape:.1%}: each source's rows predicted by a fit without them "
         "(the figure the plan's time ranges come from)." if backtest.cv is not None else
         "Not cross-validated: the stored leave-one-source-out result was computed from another calibration file "
         "(compared by content); `plan backtest FILE --cv` computes it for this one (about 40 s)."),
        f"For this plan: attention is {attention:.0%} of the step on {result.tokens_per_sample.visual:,}-token "
        "bidirectional video sequences; the runs above are language models whose step is mostly matmul, so the "
        "error on this plan's step time is not bounded by the MAPE above.",
    ]


def largest_risks(result: Plan, sim: Optional[SimulationResult], count: int = 3) -> list[str]:
    """The ``count`` risks or caveats that could move days or cost the most, largest first.

    Each candidate carries its relative swing: the price range's half-width, the time model's range, the
    failure tail (P90 over failure-free days), a tight memory headroom, a data-bound input pipeline.
    """
    risks: list[tuple[float, str]] = []
    low, high = result.cost_usd_range
    risks.append(((high - low) / 2 / result.cost_usd,
                  f"Price: the cost spans ${low:,.0f}-${high:,.0f} on the price range alone (on-demand quotes, basis stated with the price)."))
    days = result.uncertainty.train_time_days
    risks.append(((days.high - days.low) / 2 / result.train_time_days,
                  f"Time model: training {days.low:.2f}-{days.high:.2f} days ({days.basis})."))
    if sim is not None:
        tail = sim.wall_clock_days.p90 / max(sim.failure_free_days, 1e-12) - 1
        risks.append((tail, f"Failures: P90 training wall clock {sim.wall_clock_days.p90:.2f} days, {tail:.1%} over the failure-free "
                            f"{sim.failure_free_days:.2f} days (simulated; goodput {sim.goodput:.1%})."))
        if sim.data_pipeline.data_bound:
            risks.append((1.0, f"Data: storage cannot feed the GPUs at the planned rate (DATA-BOUND): a step waits "
                               f"{sim.step.data_wait_s:.2f} s on reads."))
    peak = result.most_memory
    memory = peak.memory_per_gpu_bytes
    headroom = 1 - memory.total / memory.capacity
    where = f" in stage {peak.name}" if len(result.stages) > 1 else ""
    if headroom < TIGHT_HEADROOM_FRACTION:
        risks.append((TIGHT_HEADROOM_FRACTION - headroom,
                      f"Memory: {headroom:.0%} headroom per GPU{where}; a longer caption or allocator spike may need recompute or more "
                      "parallelism."))
    return [text for _, text in sorted(risks, key=lambda r: -r[0])[:count]]
