"""What serving is asked: the system and its clip, the sampler, the GPU kinds and replica sizes, the
batches to try and (optionally) a demand. Built by keyword; the CLI fills it from options and the model's
inference defaults (catalog/serving.py)."""
from __future__ import annotations

from typing import Annotated, Optional

from pydantic import Field, field_validator

from estimators.catalog.serving import inference_defaults
from estimators.errors import PlanInputError
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


def serve_request_for(system: VideoSystemSpec, gpu_kinds: tuple[GPUSpec, ...], *, fixed_replica_gpus: Optional[int] = None,
                      frames: Optional[int] = None, height: Optional[int] = None, width: Optional[int] = None, fps: Optional[float] = None,
                      text_tokens: Optional[int] = None, steps: Optional[int] = None, guidance: Optional[str] = None,
                      precision: str = "bf16", kernel: Optional[str] = None, vae_precision: Optional[str] = None,
                      vae_tiling: Optional[bool] = None, batches: tuple[int, ...] = (1,), demand: Optional[Demand] = None,
                      experts_resident: Optional[str] = None) -> ServeRequest:
    """A request with the model's official inference settings (catalog/serving.py) filling what is not given;
    ``vae_tiling`` None keeps the official choice, False decodes untiled, True the official tiles; a model split
    into experts holds them as ``experts_resident`` says (None: as its official inference code does)."""
    defaults = inference_defaults(system)
    if experts_resident is not None and system.experts is None:
        system.with_expert_residency(experts_resident)  # refused in one line: the model has no experts
    if system.experts is not None:
        system = system.with_expert_residency(experts_resident or defaults.experts_resident)
    d = defaults.clip
    given = lambda value, default: default if value is None else value  # noqa: E731 - 0 is a value given (and refused)
    clip = ServingClip(frames=given(frames, d.frames), height=given(height, d.height), width=given(width, d.width),
                       fps=given(fps, d.fps), text_tokens=given(text_tokens, d.text_tokens))
    if clip.text_tokens > system.dit.max_text_tokens:
        raise PlanInputError(f"text tokens {clip.text_tokens}: more than the model's {system.dit.max_text_tokens} (max_text_tokens)")
    if vae_tiling and defaults.vae_tiling is None:
        raise PlanInputError(f"vae_tiling: {system.name}'s official code has no tile size to use; it decodes untiled")
    return ServeRequest(
        system=system, clip=clip, steps=given(steps, defaults.steps), guidance=given(guidance, defaults.guidance), precision=precision,
        kernel=kernel, default_kernel=defaults.attention_kernel, vae_precision=given(vae_precision, defaults.vae_precision),
        vae_tiling=None if vae_tiling is False else defaults.vae_tiling, gpu_kinds=gpu_kinds, fixed_replica_gpus=fixed_replica_gpus,
        batches=batches, demand=demand, defaults_source=defaults.source,
    )
