"""From a plan (estimators.planning.estimate.plan) to the simulators' inputs, and the simulation document."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable, Literal, Optional

import numpy as np
from pydantic import Field, PositiveInt

from estimators.counts.text_encoders import text_encoder_gemm_width
from estimators.documents.simulation import Checkpoint, Failures, Percentiles, SimulatedStep, SimulationResult
from estimators.errors import PlanInputError
from estimators.planning.failures import (
    CHECKPOINT_BYTES_PER_PARAM,
    DEFAULT_RESTART_S,
    DEFAULT_STORAGE_READ_BYTES_PER_S,
    DEFAULT_STORAGE_WRITE_BYTES_PER_S,
    young_daly_interval_s,
)
from estimators.planning.results import Plan, StagePlan
from estimators.specs.base import Spec
from estimators.specs.bounds import Bound
from estimators.units import SECONDS_PER_DAY, SECONDS_PER_HOUR
from sim.data_pipeline import DataInputs, read_demand, storage_bytes
from sim.run_sim import RunInputs, check_simulation_size, goodput, simulate_runs
from sim.step_sim import StepInputs, StepResult, simulate_step
from sim.trace import write_timeline_png, write_trace

# Bounds that keep a simulated step within seconds (about 15 microseconds an op here) and a trace or
# timeline readable (a picture shows no more bars than it has pixels).
MAX_SIMULATED_OPS = 300_000
MAX_PICTURED_EVENTS = 50_000
FULL_RECOMPUTE_EXTRA_FORWARD = 1
FORWARD_PASSES, BACKWARD_PASSES = 1, 2
MINUTE = 60.0
# bytes/s, from 10 MB/s (slower than one hard disk: storage that slow would stretch a plan to years) to a million GB/s
MIN_BANDWIDTH = 1e7
Bandwidth = Annotated[float, Bound(MIN_BANDWIDTH, 1e15, hint=" GB/s (10 MB/s: storage slower than one hard disk would stretch a plan to years)")]
YOUNG_DALY_HINT = " (leave the option out for Young/Daly's interval)"


class SimOptions(Spec):
    """Run-level assumptions (bandwidths in bytes/s, times in seconds), each within a bound."""

    runs: Annotated[int, Bound(1, 20_000)] = Field(default=1000, description="Monte Carlo runs.")
    seed: Annotated[int, Bound(0, 2**32 - 1, why="a 32-bit seed")] = Field(default=0, description="Random seed.")
    schedule: Optional[Literal["gpipe", "1f1b", "interleaved"]] = Field(
        default=None, description="Pipeline schedule; None: 1f1b, or interleaved when the layout has vpp > 1.")
    failures_per_gpu_hour: Optional[Annotated[float, Bound(0, 10)]] = Field(default=None, description="None: Llama 3's rate.")
    restart_s: Annotated[float, Bound(0, 100_000 * MINUTE, above=True)] = Field(default=DEFAULT_RESTART_S, description="Detect and restart.")
    storage_write_bytes_per_s: Bandwidth = Field(default=DEFAULT_STORAGE_WRITE_BYTES_PER_S, description="Aggregate checkpoint write bandwidth.")
    storage_read_bytes_per_s: Bandwidth = Field(default=DEFAULT_STORAGE_READ_BYTES_PER_S, description="Aggregate storage read bandwidth.")
    host_copy_bytes_per_s: Bandwidth = Field(default=25e9, description="GPU -> host snapshot for asynchronous checkpoints.")
    asynchronous_checkpoints: bool = False
    interval_s: Optional[Annotated[float, Bound(0, 1e7 * MINUTE, above=True, hint=YOUNG_DALY_HINT)]] = Field(
        default=None, description="Checkpoint interval; None: Young/Daly's.")
    checkpoints_kept: PositiveInt = 3
    raw_bitrate_bits_per_s: Annotated[float, Bound(0, 1e11, above=True)] = Field(default=8e6, description="Bitrate of the raw clips.")
    trace_path: Optional[Path] = None
    timeline_path: Optional[Path] = None
    max_segment_attempts: float = float("inf")  # the CLI bounds it (run_sim.MAX_SEGMENT_ATTEMPTS); notebooks need not


def step_inputs(stage: StagePlan) -> StepInputs:
    """Durations of one micro-batch on one stage, from the analytic model's chosen layout."""
    lay, parts = stage.layout, stage.step_breakdown_s
    m = int(round(stage.micro_batches))
    in_line = (parts.compute_s + parts.tensor_parallel_s + parts.context_parallel_s) / m
    passes = FORWARD_PASSES + BACKWARD_PASSES + (FULL_RECOMPUTE_EXTRA_FORWARD if lay.recompute == "full" else 0)
    per_call = {c.name: c.seconds_per_call for c in stage.collectives}
    zero3_gathers = sum(c.seconds for c in stage.collectives if c.name.startswith("dp ZeRO-3") and "all-gather" in c.name)
    return StepInputs(
        stages=lay.pp, micro_batches=m,
        forward_s=in_line * FORWARD_PASSES / passes, backward_s=in_line * (passes - FORWARD_PASSES) / passes,
        p2p_s=per_call.get("pp activation/gradient send", 0.0), virtual_stages=lay.vpp,
        dp_step_s=sum(c.seconds for c in stage.collectives if c.name == "dp gradient all-reduce"),
        zero3_gather_s=zero3_gathers / 2, zero3_scatter_s=per_call.get("dp ZeRO-3 gradient reduce-scatter", 0.0),
        optimizer_s=parts.optimizer_s,
    )


def simulate_stage_step(stage: StagePlan, schedule: Optional[str]) -> tuple[StepResult, str]:
    """Simulated step of one stage's chosen layout."""
    inputs = step_inputs(stage)
    ops = FORWARD_PASSES * 2 * inputs.micro_batches * inputs.stages * inputs.virtual_stages  # a forward and a backward each
    if ops > MAX_SIMULATED_OPS:
        raise PlanInputError(f"one step has {ops:,} forward and backward ops to simulate ({inputs.micro_batches:,} micro-batches x "
                             f"{inputs.stages} stages x {inputs.virtual_stages} virtual), more than {MAX_SIMULATED_OPS:,}: "
                             f"use a smaller global batch or a larger micro-batch")
    chosen = schedule or ("interleaved" if inputs.virtual_stages > 1 else "1f1b")
    return simulate_step(inputs, chosen), chosen


def checkpoint_bytes(result: Plan) -> float:
    """A checkpoint of the trained DiT (the experts a run holds): weights and optimizer states."""
    return result.params.dit_resident * CHECKPOINT_BYTES_PER_PARAM


def run_inputs(result: Plan, work_s: float, opts: SimOptions) -> RunInputs:
    """The Monte Carlo's inputs: checkpoint size from the trained parameters, times from bandwidths."""
    n = result.cluster.num_gpus
    size = checkpoint_bytes(result)
    extra = {} if opts.failures_per_gpu_hour is None else {"failures_per_gpu_hour": opts.failures_per_gpu_hour}
    return RunInputs(
        work_s=work_s, num_gpus=n, restart_s=opts.restart_s,
        checkpoint_write_s=size / opts.storage_write_bytes_per_s, checkpoint_read_s=size / opts.storage_read_bytes_per_s,
        snapshot_s=size / n / opts.host_copy_bytes_per_s, asynchronous=opts.asynchronous_checkpoints,
        interval_s=opts.interval_s, **extra,
    )


def data_inputs(result: Plan, stage_plan: StagePlan, opts: SimOptions, samples_per_s: float) -> DataInputs:
    """Data-pipeline inputs of one stage at a training throughput."""
    system, workload, stage = result.request.system, result.request.workload, stage_plan.stage
    clips = stage.num_clips if stage.num_clips is not None else stage.num_samples
    return DataInputs(
        num_clips=clips, clip_seconds=stage.frames / stage.fps, raw_bitrate_bits_per_s=opts.raw_bitrate_bits_per_s,
        geometry=stage_plan.geometry, latent_channels=system.vae.latent_channels, text_tokens=stage.text_tokens,
        text_width=text_encoder_gemm_width(system.text_encoders[0]), trained_params=result.params.dit_resident, checkpoints_kept=opts.checkpoints_kept,
        precompute_text=workload.precompute_text, precompute_latents=workload.precompute_latents,
        samples_per_s=samples_per_s, global_batch=stage.global_batch, num_gpus=result.cluster.num_gpus,
        storage_read_bytes_per_s=opts.storage_read_bytes_per_s,
    )


def _percentiles(values: np.ndarray) -> Percentiles:
    return Percentiles(p10=float(np.percentile(values, 10)), p50=float(np.percentile(values, 50)), p90=float(np.percentile(values, 90)))


def data_wait_s(result: Plan, stage: StagePlan, opts: SimOptions, compute_step_s: float) -> float:
    """Seconds a step of ``stage`` waits on storage: the loader reads the next step's clips while this one
    computes (prefetching, as PyTorch's DataLoader and Megatron's loaders do), so a step takes the longer of
    its compute and its reads."""
    demand = read_demand(data_inputs(result, stage, opts, stage.global_batch / compute_step_s))
    return max(demand.read_s_per_step - compute_step_s, 0.0)


def simulate_plan(result: Plan, opts: SimOptions, progress: Optional[Callable[[int], None]] = None) -> SimulationResult:
    """Step simulation of every stage, a Monte Carlo of the whole run, and the data pipeline."""
    steps = [simulate_stage_step(s, opts.schedule) for s in result.stages]
    waits = [data_wait_s(result, s, opts, sim.step_time_s) for (sim, _), s in zip(steps, result.stages)]
    work_s = sum((sim.step_time_s + wait) * s.stage.num_steps for (sim, _), wait, s in zip(steps, waits, result.stages))
    run = run_inputs(result, work_s, opts)
    check_simulation_size(run, opts.runs, opts.max_segment_attempts)
    walls = simulate_runs(run, opts.runs, opts.seed, progress)
    last_sim, schedule = steps[-1]
    if (opts.trace_path or opts.timeline_path) and len(last_sim.events) > MAX_PICTURED_EVENTS:
        raise PlanInputError(f"--trace/--timeline: one step has {len(last_sim.events):,} events, more than the {MAX_PICTURED_EVENTS:,} "
                             f"a trace or picture shows; use a smaller global batch or a larger micro-batch")
    if opts.trace_path:
        write_trace(last_sim.events, opts.trace_path)
    if opts.timeline_path:
        write_timeline_png(last_sim.events, opts.timeline_path, f"{result.model.name}: one step, {schedule}")
    good = goodput(work_s, walls)
    data = data_inputs(result, result.last, opts, result.last.global_batch / last_sim.step_time_s)
    return SimulationResult(
        goodput=float(np.median(good)), goodput_percentiles=_percentiles(good), wall_clock_days=_percentiles(walls / SECONDS_PER_DAY),
        failure_free_days=work_s / SECONDS_PER_DAY,
        step=SimulatedStep(schedule=schedule, step_time_s=last_sim.step_time_s + waits[-1], compute_step_time_s=last_sim.step_time_s,
                           data_wait_s=waits[-1], analytic_step_time_s=result.last.step_time_s,
                           bubble_fraction=last_sim.bubble_fraction, exposed_comm_fraction=last_sim.exposed_comm_fraction),
        checkpoint_interval_s=run.effective_interval_s,
        young_daly_interval_s=young_daly_interval_s(run.stall_s, run.mtbf_s),
        checkpoint=Checkpoint(bytes=checkpoint_bytes(result), write_s=run.checkpoint_write_s, stall_s=run.stall_s,
                              asynchronous=run.asynchronous),
        failures=Failures(per_gpu_hour=run.failures_per_gpu_hour, job_mtbf_hours=run.mtbf_s / SECONDS_PER_HOUR, restart_s=run.restart_s),
        storage_bytes=storage_bytes(data), data_pipeline=read_demand(data),
        preprocessing_gpu_hours=result.preprocessing_days * 24 * result.cluster.num_gpus,
        runs=opts.runs, seed=opts.seed,
    )
