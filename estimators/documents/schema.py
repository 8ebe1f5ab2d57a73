"""The documents the commands emit (estimate, estimate with a deadline/budget, simulate) as pydantic
models: every document passes through its model before it is printed, and ``plan schema`` prints the
JSON Schema generated from the same models.

Numbers are strict JSON numbers (a numeric string is an error). Sub-documents that other parts of the
planner grow (per-component breakdowns, kernel and stack names, warnings) accept extra keys; the keys
listed here are the contract and are never renamed.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from estimators.specs.layout import Layout

SCHEMA_VERSION = "1.0.0"  # semantic version: major changes when a contract key changes meaning
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class Doc(BaseModel):
    """A (sub-)document: strict numbers, extra keys allowed (documented where they are expected)."""

    model_config = ConfigDict(strict=True, extra="allow")


class Range(Doc):
    low: float
    high: float
    basis: str = Field(description="What the range spans (e.g. the calibration residuals, the price range).")


class Uncertainty(Doc):
    """Ranges of the headline figures (added by the time model; any subset may be present)."""

    step_time_s: Optional[Range] = None
    train_time_days: Optional[Range] = None
    gpu_hours: Optional[Range] = None
    cost_usd: Optional[Range] = None
    energy_kwh: Optional[Range] = None


class Dominant(Doc):
    part: str = Field(description="The step-time part that dominates.")
    share: float = Field(description="Its share of the step, 0-1.")


class ModelInfo(Doc):
    name: str
    exact: bool
    source: str


class ClusterInfo(Doc):
    """May grow kernel/stack names."""

    gpu: str
    num_gpus: int
    precision: str


class Params(Doc):
    """Exact parameter counts; may grow per-component breakdowns and params_vs_published."""

    dit: int
    text_encoder: int
    vae_encoder: int
    vae_decoder: int
    dit_breakdown: dict[str, int]


class Tokens(Doc):
    visual: int
    text: int


class LatentShape(Doc):
    frames: int
    height: int
    width: int


class Flops(Doc):
    """FLOPs of one training sample (2 per multiply-add); may grow per-component breakdowns."""

    dit_forward: int
    dit_forward_breakdown: dict[str, int]
    text_encoder_forward: int
    vae_encoder_forward: int
    vae_decoder_forward: int
    frozen_online_forward: int = Field(description="Frozen encoders run online a sample (not in MFU).")
    train_step_model: int = Field(description="Trained DiT forward + backward: the FLOPs MFU counts.")
    train_step_total: int = Field(description="train_step_model + frozen_online_forward.")
    train_step_hardware: int = Field(description="train_step_total + recomputed forward.")


class Memory(Doc):
    """Bytes per GPU by part (parts sum to total); may grow parts."""

    total: float
    capacity: float
    fits: bool


class Collective(Doc):
    name: str
    kind: str
    group: str
    per: Literal["micro-batch", "step"] = Field(description="What calls, bytes and seconds are counted per.")
    calls: float
    ranks: int
    tier: str
    buffer_bytes: float
    bytes_per_gpu: float
    seconds: float
    overlap: str


class Clip(Doc):
    height: int
    width: int
    frames: int
    fps: float
    seconds: float


class Price(Doc):
    gpu: str
    usd_per_gpu_hour: float
    low: float
    high: float
    basis: str
    source: str
    date: str


class Stage(Doc):
    """One training stage: its own layout, step and totals."""

    name: str
    clip: Clip
    latent_shape: LatentShape
    tokens_per_sample: Tokens
    flops_per_sample: Flops
    memory_per_gpu_bytes: Memory
    layout: Layout
    steps: int
    global_batch: int
    micro_batches: float
    step_time_s: float
    step_breakdown_s: dict[str, float]
    bubble_fraction: float
    collectives: list[Collective]
    mfu: float = Field(description="Trained-model FLOPs / (step time x peak x GPUs).")
    hfu: float
    tflops_per_gpu: float
    frozen_encoder_tflops_per_gpu: float
    samples_per_s: float
    train_time_days: float
    preprocessing_days: float
    gpu_hours: float
    cost_usd: float
    cost_usd_range: list[float] = Field(min_length=2, max_length=2, description="[low, high] at the price range.")
    energy_kwh: float


class RankedLayout(Doc):
    label: str
    layout: Optional[Layout]
    step_time_s: Optional[float]
    memory_bytes: Optional[float]
    verdict: str


class SearchSummary(Doc):
    layouts_evaluated: int
    layouts_valid_and_fitting: int
    ranking: list[RankedLayout]


class Workload(Doc):
    precompute_text: bool
    precompute_latents: bool


class EstimateDocument(Doc):
    """`plan estimate --json`: the last stage's per-sample figures at the top level, totals over all stages."""

    schema_version: str = SCHEMA_VERSION
    model: ModelInfo
    cluster: ClusterInfo
    params: Params
    tokens_per_sample: Tokens
    latent_shape: LatentShape
    flops_per_sample: Flops
    memory_per_gpu_bytes: Memory
    layout: Layout
    step_time_s: float
    step_breakdown_s: dict[str, float]
    collectives: list[Collective]
    mfu: float = Field(description="Trained-model FLOPs / (step time x peak x GPUs), last stage.")
    hfu: float
    tflops_per_gpu: float
    frozen_encoder_tflops_per_gpu: float
    samples_per_s: float
    train_time_days: float = Field(description="All stages.")
    preprocessing_days: float
    gpu_hours: float = Field(description="GPUs x (training + preprocessing) hours, all stages.")
    cost_usd: float
    cost_usd_range: list[float] = Field(min_length=2, max_length=2, description="[low, high] at the price range.")
    price: Price
    energy_kwh: float
    stages: list[Stage]
    workload: Workload
    assumptions: list[str]
    search: Optional[SearchSummary] = None
    uncertainty: Optional[Uncertainty] = None
    warnings: Optional[list[str]] = None
    dominant: Optional[Dominant] = None


class FleetOption(Doc):
    gpu: str
    num_gpus: int
    layout: str
    train_time_days: float
    preprocessing_days: float
    elapsed_days: float = Field(description="Training + one-off preprocessing on the same cluster: what a deadline limits.")
    gpu_hours: float
    cost_usd: float
    cost_usd_range: list[float] = Field(min_length=2, max_length=2)
    usd_per_gpu_hour: float
    why_not: str


class FleetQueryInfo(Doc):
    deadline_days: Optional[float]
    budget_usd: Optional[float]
    max_gpus: int
    gpus: list[str]
    sizes_searched: dict[str, list[int]]
    sizes_with_a_fitting_layout: dict[str, list[int]]
    plans_evaluated: int


class FleetDocument(Doc):
    """`plan estimate --deadline-days/--budget-usd --json`: the choice, runners-up of each kind, the chosen plan."""

    schema_version: str = SCHEMA_VERSION
    query: FleetQueryInfo
    answer: str
    choice: Optional[FleetOption]
    nearest: Optional[FleetOption]
    fastest: FleetOption
    candidates: list[FleetOption]
    plan: Optional[EstimateDocument] = None


class Percentiles(Doc):
    p10: float
    p50: float
    p90: float


class SimulatedStep(Doc):
    schedule: str
    step_time_s: float
    analytic_step_time_s: float
    bubble_fraction: float
    exposed_comm_fraction: float


class Checkpoint(Doc):
    bytes: float
    write_s: float
    stall_s: float
    asynchronous: bool


class Failures(Doc):
    per_gpu_hour: float
    job_mtbf_hours: float
    restart_s: float


class DataPipeline(Doc):
    bytes_per_sample: float
    read_bytes_per_s: float
    read_bytes_per_s_per_gpu: float
    storage_read_bytes_per_s: float
    data_bound: bool


class SimulateDocument(Doc):
    """`plan simulate --json`: simulated step, Monte Carlo of the run, storage and data pipeline."""

    schema_version: str = SCHEMA_VERSION
    goodput: float
    goodput_percentiles: Percentiles
    wall_clock_days: Percentiles
    failure_free_days: float
    step: SimulatedStep
    checkpoint_interval_s: float
    young_daly_interval_s: float
    checkpoint: Checkpoint
    failures: Failures
    storage_bytes: dict[str, float]
    data_pipeline: DataPipeline
    preprocessing_gpu_hours: float
    runs: int
    seed: int


DOCUMENTS = {"estimate": EstimateDocument, "estimate-deadline": FleetDocument, "simulate": SimulateDocument}


def emitted(model: type[Doc], document: dict) -> dict:
    """The document as it is printed: checked against its model, with schema_version, plain JSON types."""
    return model.model_validate({**document, "schema_version": SCHEMA_VERSION}).model_dump(mode="json", exclude_unset=True)


def json_schema(name: Optional[str] = None) -> dict:
    """The JSON Schema of one document, or of all of them under $defs-style 'documents'."""
    if name is not None:
        return {"$schema": SCHEMA_DIALECT, **DOCUMENTS[name].model_json_schema(mode="serialization")}
    return {
        "$schema": SCHEMA_DIALECT,
        "title": "videoplan documents",
        "schema_version": SCHEMA_VERSION,
        "documents": {key: model.model_json_schema(mode="serialization") for key, model in DOCUMENTS.items()},
    }
