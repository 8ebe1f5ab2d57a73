"""What serving is asked: the system and its clip, the sampler, the GPU kinds and replica sizes, the
batches to try and (optionally) a demand. Built by keyword; the CLI fills it from options and the model's
inference defaults (catalog/serving.py)."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, field_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Bound
from estimators.specs.hardware import GPUSpec
from estimators.specs.models import VideoSystemSpec
from estimators.specs.serving import Demand, Guidance, ServePrecision, ServingClip, Steps, VaePrecision, VaeTiling

MAX_BATCH = 64  # requests served together; the batches searched are each timed at every size and split
ReplicaGpus = Annotated[int, Bound(1, 8, why="xDiT runs a replica inside one NVLink domain of at most 8 GPUs")]
Batch = Annotated[int, Bound(1, MAX_BATCH)]


class ServeRequest(Spec):
    """Everything a serving plan depends on, given by keyword."""

    system: VideoSystemSpec
    clip: ServingClip
    steps: Steps
    guidance: Guidance
    precision: ServePrecision = "bf16"
    kernel: Optional[str] = Field(default=None, description="Attention kernel; None: the model's official one.")
    default_kernel: str = Field(description="The kernel the model's official inference code runs.")
    vae_precision: VaePrecision
    vae_tiling: Optional[VaeTiling] = None
    gpu_kinds: tuple[GPUSpec, ...] = Field(min_length=1)
    max_replica_gpus: ReplicaGpus = 8
    fixed_replica_gpus: Optional[ReplicaGpus] = Field(default=None, description="Only this replica size (--gpus NAMExCOUNT).")
    batches: tuple[Batch, ...] = Field(default=(1,), min_length=1, max_length=8)
    demand: Optional[Demand] = None
    defaults_source: str = Field(description="Where the sampler and clip defaults come from.")

    @field_validator("batches")
    @classmethod
    def _distinct_sorted(cls, batches: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(set(batches)))
