"""Typed time results of one layout: the step's parts and every collective it issues."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from estimators.results import Range, Result

# The parts of a step during which the GPU computes (the rest waits on links or on the pipeline).
COMPUTE_PARTS = ("matmul_s", "attention_s", "elementwise_s", "frozen_encoders_s", "overhead_s")


class StepBreakdown(Result):
    """Seconds of one optimizer step by part (they add up to the step time)."""

    matmul_s: float = Field(description="GEMMs: forward, backward and recomputed forward.")
    attention_s: float = Field(description="Attention kernels (self, joint and cross).")
    elementwise_s: float = Field(description="Element-wise ops at the achieved HBM bandwidth.")
    overhead_s: float = Field(description="Per-layer dispatch beyond FLOPs and bytes.")
    frozen_encoders_s: float = Field(description="Frozen text encoders and VAE encoder run online.")
    tensor_parallel_s: float = Field(description="Tensor-parallel collectives left exposed.")
    context_parallel_s: float = Field(description="Ulysses all-to-alls and ring exchange left exposed.")
    pipeline_p2p_s: float = Field(description="Pipeline sends.")
    bubble_s: float = Field(description="Pipeline bubble.")
    data_parallel_exposed_s: float = Field(description="Data-parallel traffic the stack does not hide.")
    optimizer_s: float = Field(description="The AdamW update (and FP8 weight casts).")
    activation_offload_s: float = Field(default=0.0, description="Activation copies to and from host memory not hidden behind compute.")

    def parts(self) -> dict[str, float]:
        """Part name (without '_s') -> seconds."""
        return {name.removesuffix("_s"): getattr(self, name) for name in type(self).model_fields}

    @property
    def compute_s(self) -> float:
        """The GPU computing: GEMMs, attention, element-wise ops, frozen encoders and dispatch."""
        return sum(getattr(self, part) for part in COMPUTE_PARTS)


class CollectiveCall(Result):
    """One kind of collective of a step on one GPU of the busiest pipeline stage."""

    name: str
    kind: str = Field(description="all_reduce, all_gather, reduce_scatter, all_to_all or send_recv.")
    group: str = Field(description="The parallel group: tp, cp, pp or dp.")
    per: Literal["micro-batch", "step"] = Field(description="What calls, bytes and seconds are counted per.")
    calls: float
    ranks: int
    tier: str = Field(description="The slowest link crossed: the scale-up link (NVLink, Infinity Fabric, PCIe) or NIC.")
    algorithm: str = Field(default="ring", description="What NCCL / RCCL's tuner runs: ring, tree, nvls, nvls_tree, or p2p sends.")
    local_ranks: int = Field(default=0, description="Ranks of the group inside one scale-up domain (their NICs carry its traffic across).")
    buffer_bytes: float
    bytes_per_gpu: float
    seconds: float = Field(description="All calls, before any overlap.")
    overlap: str = Field(description="How the step model treats its time.")

    @property
    def seconds_per_call(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0


class TimeModel(Result):
    """What a plan's time figures rest on."""

    kernel: Optional[str] = Field(description="Attention kernel (None: the device profile's measured curves).")
    stack: str = Field(description="Training stack whose overlaps apply.")
    mfu_peak_precision: str = Field(description="The peak MFU is measured against (BF16, also under FP8).")
    attention_precision: dict[str, str] = Field(description="Precision of the attention kernel's forward and backward.")
    fp8_share_of_step: float = Field(description="Share of the step FP8 touches (0 under BF16).")
    gemm_share_of_step: float


class Dominant(Result):
    part: str = Field(description="The step-time part that dominates.")
    share: float = Field(description="Its share of the step, 0-1.")


class Uncertainty(Result):
    """Ranges of the headline figures."""

    step_time_s: Range
    train_time_days: Range
    gpu_hours: Range
    cost_usd: Range
    energy_kwh: Range
