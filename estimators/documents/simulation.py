"""The simulation's document (`plan simulate --json`): the simulated step, the Monte Carlo of the whole
run with failures and checkpoints, storage and the data pipeline. Built by sim/plan_sim.py."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from estimators.results import Document, Result


class Percentiles(Result):
    p10: float
    p50: float
    p90: float


class SimulatedStep(Result):
    schedule: str
    step_time_s: float = Field(description="A step as trained: compute, or the storage reads when they take longer.")
    compute_step_time_s: float = Field(description="The simulated step of the GPUs alone.")
    data_wait_s: float = Field(description="What a step waits on storage reads beyond its compute (0 unless data-bound).")
    analytic_step_time_s: float
    bubble_fraction: float
    exposed_comm_fraction: float


class Checkpoint(Result):
    bytes: float
    write_s: float
    stall_s: float
    asynchronous: bool


class Failures(Result):
    per_gpu_hour: float
    job_mtbf_hours: float
    restart_s: float


class StorageBytes(Result):
    """Bytes stored for the dataset, the caches and the checkpoints."""

    raw_clips: float
    latents: float = Field(description="Cached latents (0 when encoded online).")
    text_embeddings: float = Field(description="Cached text embeddings (0 when encoded online).")
    checkpoints: float


class DataPipeline(Result):
    """What the training loop reads, and whether storage keeps up."""

    bytes_per_sample: float
    read_bytes_per_s: float
    read_bytes_per_s_per_gpu: float
    storage_read_bytes_per_s: float
    data_bound: bool = Field(description="The reads a step needs take longer than its compute: the step waits on storage.")
    read_s_per_step: float = Field(description="Seconds storage takes to deliver one step's clips.")
    compute_s_per_step: float = Field(description="Seconds the GPUs compute one step (what the reads overlap with).")


class SimulationResult(Document):
    """`plan simulate --json`: simulated step, Monte Carlo of the run, storage and data pipeline."""

    kind: Literal["simulate"] = "simulate"

    goodput: float = Field(description="Median share of wall-clock time spent on useful steps.")
    goodput_percentiles: Percentiles
    wall_clock_days: Percentiles
    failure_free_days: float
    step: SimulatedStep
    checkpoint_interval_s: float
    young_daly_interval_s: float
    checkpoint: Checkpoint
    failures: Failures
    storage_bytes: StorageBytes
    data_pipeline: DataPipeline
    preprocessing_gpu_hours: float
    runs: int
    seed: int
