"""A plan as typed results: what ``plan estimate --json`` prints and its JSON Schema, from one set of classes.

Keys named in the issues (params.*, tokens_per_sample.*, flops_per_sample.*, memory_per_gpu_bytes.*,
layout.*, step_time_s, mfu, tflops_per_gpu, train_time_days, gpu_hours, cost_usd, energy_kwh) are a
contract; more may be added, none renamed. Per-sample and per-step figures at the top level describe
the last stage (computed from it, never stored twice); totals add every stage.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, computed_field
from pydantic.json_schema import SkipJsonSchema

from estimators.catalog.prices import PriceQuote
from estimators.counts.geometry import ClipGeometry
from estimators.memory.per_gpu import MemoryBreakdown
from estimators.planning.failures import FailureOutlook
from estimators.planning.request import PlanRequest
from estimators.results import Document, Result
from estimators.search.alternatives import SearchSummary
from estimators.search.layout_search import SearchResult
from estimators.specs.layout import Layout
from estimators.specs.training import Training
from estimators.specs.workload import TrainingStage
from estimators.time.results import CollectiveCall, Dominant, StepBreakdown, TimeModel, Uncertainty
from estimators.units import GIB, SECONDS_PER_DAY


class ModelInfo(Result):
    name: str
    exact: bool = Field(description="Counts reproduce the public implementation to the unit.")
    source: str
    notes: Optional[str]


class ClusterInfo(Result):
    gpu: str
    num_gpus: int
    precision: str


class Params(Result):
    """Exact parameter counts."""

    dit: int = Field(description="The DiT's parameters; a model split into experts: all experts together.")
    text_encoder: int = Field(description="All frozen text encoders together.")
    vae_encoder: int
    vae_decoder: int
    dit_breakdown: dict[str, int] = Field(description="The DiT's parts (of one expert when the model has experts).")
    text_encoder_breakdown: list[int] = Field(description="Each text encoder in order.")
    dit_per_expert: int = Field(description="One expert's parameters (dit itself without experts).")
    dit_resident: int = Field(description="DiT parameters one training run holds and checkpoints (the resident experts').")


class ExpertShare(Result):
    """One expert of a model split by noise level: its noise levels and its part of the training."""

    name: str
    noise_levels: tuple[float, float] = Field(description="[low, high) noise level sigma it denoises.")
    share: float = Field(description="Share of the training samples (and of the training time) on its noise levels.")
    samples: int = Field(description="Training samples on its noise levels, all stages.")
    steps: float = Field(description="Its optimizer steps at the stages' global batches, all stages (share x steps).")
    train_time_days: float = Field(description="Its share of the training days.")


class ExpertsPlan(Result):
    """How a model split into experts is trained: experts, residency and each expert's share."""

    count: int
    residency: str = Field(description="'one': a run per expert, one expert's states in memory; 'all': one run holding every expert.")
    resident: int = Field(description="Experts whose weights, gradients and optimizer states a run holds at once.")
    params_each: int
    experts: tuple[ExpertShare, ...]
    source: str


class PublishedComparison(Result):
    """A count the model file publishes against ours."""

    published: int
    counted: int
    difference: int
    relative: Optional[float]


class Tokens(Result):
    visual: int
    text: int = Field(description="Caption tokens (the text encoder's, through the caption projection).")
    context: int = Field(default=0, description="Further text-side tokens every block sees besides the caption's (context embedders: "
                         "HunyuanVideo 1.5's ByT5 glyph tokens, Step-Video's Hunyuan-CLIP tokens).")


class LatentShape(Result):
    frames: int
    height: int
    width: int


class Clip(Result):
    height: int
    width: int
    frames: int
    fps: float
    seconds: float


class SampleFlops(Result):
    """FLOPs of one training sample (2 per multiply-add)."""

    dit_forward: int
    dit_forward_breakdown: dict[str, int]
    text_encoder_forward: int
    vae_encoder_forward: int
    vae_decoder_forward: int
    frozen_online_forward: int = Field(description="Frozen encoders run online a sample (not in MFU).")
    train_step_model: int = Field(description="Trained DiT forward + backward: the FLOPs MFU counts.")
    train_step_total: int = Field(description="train_step_model + frozen_online_forward.")
    train_step_hardware: int = Field(description="train_step_total + recomputed forward.")


class WorkloadInfo(Result):
    precompute_text: bool
    precompute_latents: bool
    training: Training = Field(default_factory=Training, description="Full training or LoRA, and how the trained weights and their optimizer states are kept.")


class StagePlan(Result):
    """One training stage: its own layout, step and totals."""

    name: str
    clip: Clip
    latent_shape: LatentShape
    tokens_per_sample: Tokens
    flops_per_sample: SampleFlops
    memory_per_gpu_bytes: MemoryBreakdown
    layout: Layout
    steps: int
    global_batch: int
    micro_batches: float
    step_time_s: float
    step_breakdown_s: StepBreakdown
    bubble_fraction: float
    collectives: tuple[CollectiveCall, ...]
    mfu: float = Field(description="Trained-model FLOPs / (step time x peak x GPUs).")
    hfu: float
    tflops_per_gpu: float
    frozen_encoder_tflops_per_gpu: float
    samples_per_s: float
    train_time_days: float
    preprocessing_days: float
    gpu_hours: float
    cost_usd: float
    cost_usd_range: tuple[float, float] = Field(description="[low, high] at the price range.")
    energy_kwh: float
    search: Optional[SearchSummary] = Field(description="The layout search of this stage (None for a fixed layout).")
    dominant: Dominant
    time_model: TimeModel
    # working objects for the simulators and sweeps, not part of the document
    stage: SkipJsonSchema[TrainingStage] = Field(exclude=True)
    geometry: SkipJsonSchema[ClipGeometry] = Field(exclude=True)
    search_result: SkipJsonSchema[Optional[SearchResult]] = Field(default=None, exclude=True)

    @property
    def train_s(self) -> float:
        return self.train_time_days * SECONDS_PER_DAY

    @property
    def preprocess_s(self) -> float:
        return self.preprocessing_days * SECONDS_PER_DAY


class Plan(Document):
    """`plan estimate --json`: the last stage's per-sample figures at the top level, totals over all stages."""

    kind: Literal["estimate"] = "estimate"

    model: ModelInfo
    cluster: ClusterInfo
    params: Params
    params_vs_published: dict[str, PublishedComparison]
    experts: Optional[ExpertsPlan] = Field(default=None, description="A model split into experts by noise level (None: one DiT).")
    train_time_days: float = Field(description="All stages.")
    preprocessing_days: float
    gpu_hours: float = Field(description="GPUs x (training + preprocessing) hours, all stages.")
    cost_usd: float
    cost_usd_range: tuple[float, float] = Field(description="[low, high] at the price range.")
    price: PriceQuote
    energy_kwh: float
    stages: tuple[StagePlan, ...] = Field(min_length=1)
    workload: WorkloadInfo
    assumptions: list[str]
    warnings: list[str]
    uncertainty: Uncertainty
    failures: FailureOutlook = Field(description="Training wall clock with failures and checkpoints (closed form; plan simulate draws it).")
    request: SkipJsonSchema[PlanRequest] = Field(exclude=True)

    @property
    def last(self) -> StagePlan:
        """The stage the top-level per-sample figures describe."""
        return self.stages[-1]

    @property
    def most_memory(self) -> StagePlan:
        """The stage that needs the most memory per GPU (the first of equals)."""
        return max(self.stages, key=lambda s: s.memory_per_gpu_bytes.total)

    @computed_field(description="Training + one-off preprocessing, all stages, failure-free: the days to rent the cluster for.")
    @property
    def elapsed_days(self) -> float:
        return self.train_time_days + self.preprocessing_days

    @computed_field(description="One line: what to rent, for how long, at what cost, with ranges (the first line of the terminal output).")
    @property
    def answer(self) -> str:
        pre, days, failures = self.preprocessing_days, self.uncertainty.train_time_days, self.failures
        low, high = self.uncertainty.cost_usd.low, self.uncertainty.cost_usd.high
        extra = failures.p90_days - self.train_time_days
        if len(self.stages) > 1:
            peak = self.most_memory
            how = (f"{len(self.stages)} stages, each with its own layout (below); most memory in {peak.name}: "
                   f"{peak.memory_per_gpu_bytes.total / GIB:.1f} of {peak.memory_per_gpu_bytes.capacity / GIB:.0f} GiB per GPU")
        else:
            memory = self.last.memory_per_gpu_bytes
            how = (f"layout {self.last.layout.label}, {self.last.step_time_s:,.2f} s a step, MFU {self.last.mfu:.1%}, "
                   f"{memory.total / GIB:.1f} of {memory.capacity / GIB:.0f} GiB per GPU")
        return (f"Rent {self.cluster.num_gpus:,} x {self.cluster.gpu} for {self.elapsed_days:,.2f} days ({pre + days.low:,.2f}-"
                f"{pre + days.high:,.2f}) at ${self.cost_usd:,.0f} (${low:,.0f}-${high:,.0f}); failures and restarts add up to "
                f"{extra:,.2f} days (P90); {how}.")

    @computed_field(description="Last stage.")
    @property
    def tokens_per_sample(self) -> Tokens:
        return self.last.tokens_per_sample

    @computed_field(description="Last stage.")
    @property
    def latent_shape(self) -> LatentShape:
        return self.last.latent_shape

    @computed_field(description="Last stage.")
    @property
    def flops_per_sample(self) -> SampleFlops:
        return self.last.flops_per_sample

    @computed_field(description="Last stage.")
    @property
    def memory_per_gpu_bytes(self) -> MemoryBreakdown:
        return self.last.memory_per_gpu_bytes

    @computed_field(description="Every stage's memory fits its GPUs (false: see memory_per_gpu_bytes and the warnings).")
    @property
    def fits(self) -> bool:
        return all(s.memory_per_gpu_bytes.fits for s in self.stages)

    @computed_field(description="Last stage.")
    @property
    def layout(self) -> Layout:
        return self.last.layout

    @computed_field(description="Last stage.")
    @property
    def step_time_s(self) -> float:
        return self.last.step_time_s

    @computed_field(description="Last stage.")
    @property
    def step_breakdown_s(self) -> StepBreakdown:
        return self.last.step_breakdown_s

    @computed_field(description="Last stage.")
    @property
    def collectives(self) -> tuple[CollectiveCall, ...]:
        return self.last.collectives

    @computed_field(description="Trained-model FLOPs / (step time x peak x GPUs), last stage.")
    @property
    def mfu(self) -> float:
        return self.last.mfu

    @computed_field(description="Last stage.")
    @property
    def hfu(self) -> float:
        return self.last.hfu

    @computed_field(description="Last stage.")
    @property
    def tflops_per_gpu(self) -> float:
        return self.last.tflops_per_gpu

    @computed_field(description="Last stage.")
    @property
    def frozen_encoder_tflops_per_gpu(self) -> float:
        return self.last.frozen_encoder_tflops_per_gpu

    @computed_field(description="Last stage.")
    @property
    def samples_per_s(self) -> float:
        return self.last.samples_per_s

    @computed_field(description="The layout search of the last stage (None for a fixed layout).")
    @property
    def search(self) -> Optional[SearchSummary]:
        return self.last.search

    @computed_field(description="The largest part of the last stage's step.")
    @property
    def dominant(self) -> Dominant:
        return self.last.dominant

    @computed_field(description="What the last stage's time rests on.")
    @property
    def time_model(self) -> TimeModel:
        return self.last.time_model
