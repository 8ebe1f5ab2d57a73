"""The simulation's document (`plan simulate --json`): the simulated step, the Monte Carlo of the whole
run with failures and checkpoints, storage and the data pipeline. Built by sim/plan_sim.py."""
from __future__ import annotations

from pydantic import Field

from estimators.results import Document, Result


class Percentiles(Result):
    p10: float
    p50: float
    p90: float


class SimulatedStep(Result):
    schedule: str
    step_time_s: float
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
    data_bound: bool


class SimulationResult(Document):
    """`plan simulate --json`: simulated step, Monte Carlo of the run, storage and data pipeline."""

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
