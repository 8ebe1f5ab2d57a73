"""What serving a video system is asked and rests on: inference defaults per model, the devices' serving
figures (host link, convolution efficiency, container encoding), the demand (arrivals, latency target,
availability). Every figure read from data carries its source.
"""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import Field, model_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Bound
from estimators.specs.workload import Fps, Frames, Pixels, TextTokens

# How classifier-free guidance runs a denoising step: not at all (a guidance-distilled model: one forward),
# as one forward of a batch of k (conditional, unconditional[, a third branch]), or as k forwards in a row.
Guidance = Literal["none", "batch-2", "sequential-2", "batch-3", "sequential-3"]
VaePrecision = Literal["fp32", "bf16", "fp16"]
ServePrecision = Literal["bf16", "fp8", "fp32"]
Percentile = Literal[50, 95, 99]

Steps = Annotated[int, Bound(1, 1_000, why="sampler steps of any published video model are under a thousand")]
Hours = Annotated[int, Bound(1, 24)]


def guidance_branches(guidance: Guidance) -> int:
    """DiT evaluations a denoising step needs (1, 2 or 3)."""
    return 1 if guidance == "none" else int(guidance[-1])


def guidance_is_batched(guidance: Guidance) -> bool:
    """True when the branches run as one forward of a larger batch."""
    return guidance.startswith("batch")


class VaeTiling(Spec):
    """Spatial tiles the decoder runs on, in latent pixels (diffusers' tile_sample_min and its stride, over 8)."""

    tile_height: Annotated[int, Bound(1, 4_096)] = Field(description="Tile height in latent pixels.")
    tile_width: Annotated[int, Bound(1, 4_096)] = Field(description="Tile width in latent pixels.")
    stride_height: Annotated[int, Bound(1, 4_096)] = Field(description="Distance between tile rows in latent pixels.")
    stride_width: Annotated[int, Bound(1, 4_096)] = Field(description="Distance between tile columns in latent pixels.")

    @model_validator(mode="after")
    def _stride_within_tile(self) -> "VaeTiling":
        if self.stride_height > self.tile_height or self.stride_width > self.tile_width:
            raise ValueError("a stride must not exceed its tile side (tiles would leave gaps)")
        return self


class ServingClip(Spec):
    """The clip a request asks for."""

    frames: Frames = Field(description="Frames (the VAE's rule applies, e.g. 4k+1).")
    height: Pixels = Field(description="Height in pixels.")
    width: Pixels = Field(description="Width in pixels.")
    fps: Fps = Field(description="Frame rate of the written video.")
    text_tokens: TextTokens = Field(description="Caption tokens the DiT reads.")

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


class InferenceDefaults(Spec):
    """How a model's official inference code generates a clip (or diffusers' pipeline where that is the official code)."""

    steps: Steps = Field(description="Sampler steps.")
    guidance: Guidance = Field(description="How guidance runs a step.")
    clip: ServingClip = Field(description="Default clip of the official inference code.")
    vae_precision: VaePrecision = Field(description="Precision the VAE decodes in.")
    vae_tiling: Optional[VaeTiling] = Field(default=None, description="Spatial tiles of the decode (None: the whole frame).")
    attention_kernel: str = Field(description="Attention kernel the official code runs (a name of data/kernels/attention.yaml).")
    experts_resident: Optional[Literal["one", "all"]] = Field(
        default=None, description="A model split into experts by noise level: 'all' on the GPU, or 'one' with the idle expert on the host, "
                                  "swapped in at the boundary (None: a model without experts).")
    source: str = Field(description="Where each default was read.")


class HostLink(Spec):
    """The GPU's link to host memory (offload traffic)."""

    bytes_per_s_per_direction: float = Field(gt=0, description="Datasheet bandwidth one way, bytes/s.")
    efficiency: float = Field(gt=0, le=1, description="Achieved fraction of it for large pinned copies.")
    source: str
    date: str

    @property
    def achieved_bytes_per_s(self) -> float:
        return self.bytes_per_s_per_direction * self.efficiency


class ServingDevice(Spec):
    """What serving needs of a device beyond its datasheet and training profile: the host link, how well the
    VAE's 3D convolutions run, the host cores that encode the container."""

    name: str = Field(description="GPU name (or CPU-host).")
    host_link: Optional[HostLink] = Field(default=None, description="Link to host memory; None: offload cannot be planned.")
    conv_efficiency: float = Field(gt=0, le=1, description="Fraction of the dense peak the VAE's 3D convolutions reach.")
    conv_source: str = Field(description="Where the convolution efficiency comes from.")
    conv_layer_overhead_s: float = Field(default=0.0, ge=0, description="Fixed seconds a convolution layer costs beyond its FLOPs and bytes.")
    host_cores_per_gpu: float = Field(gt=0, description="Host CPU cores per GPU (container encoding runs there).")
    host_source: str = Field(description="Where the host cores come from.")


class ContainerEncoding(Spec):
    """Encoding the decoded frames into a container (libx264 on the host CPU: data-centre GPUs of this
    catalogue have no video encoder, or one the official code does not use)."""

    pixel_frames_per_s_per_core: float = Field(gt=0, description="Pixels x frames a host core encodes per second.")
    per_clip_s: float = Field(ge=0, description="Fixed seconds a clip (container and encoder set-up, trailer).")
    source: str
    date: str


class Reliability(Spec):
    """Failure rate of a GPU in service and the time to replace a failed replica."""

    failures_per_gpu_hour: float = Field(ge=0, description="Failures per GPU-hour.")
    repair_s: float = Field(gt=0, description="Seconds from a failure to the replica serving again.")
    source: str


class Demand(Spec):
    """Clips asked for and what answering them must meet."""

    clips_per_hour: Annotated[float, Bound(0, 10_000_000, above=True, why="ten million clips an hour is far beyond any service")] = Field(
        description="Mean arrival rate (Poisson).")
    hourly_profile: Optional[tuple[Annotated[float, Bound(0, 1e6)], ...]] = Field(
        default=None, description="24 relative weights of the hours of a day (None: flat); the busiest hour sets the fleet.")
    percentile: Percentile = Field(default=95, description="The latency percentile the target applies to.")
    latency_target_s: Annotated[float, Bound(0, 10_000_000, above=True)] = Field(description="Latency at that percentile, seconds.")
    availability: Annotated[float, Bound(0.5, 0.999999, hint="e.g. 0.999")] = Field(
        default=0.999, description="Probability that enough replicas are up to meet the target.")

    @model_validator(mode="after")
    def _profile_has_24_hours(self) -> "Demand":
        if self.hourly_profile is not None:
            if len(self.hourly_profile) != 24:
                raise ValueError(f"hourly_profile: expected 24 weights (one an hour), got {len(self.hourly_profile)}")
            if sum(self.hourly_profile) <= 0:
                raise ValueError("hourly_profile: the weights must not all be 0")
        return self

    @property
    def peak_factor(self) -> float:
        """Busiest hour's rate over the mean rate (1 for a flat day)."""
        if self.hourly_profile is None:
            return 1.0
        return max(self.hourly_profile) * len(self.hourly_profile) / sum(self.hourly_profile)

    def hourly_rates_per_s(self) -> list[float]:
        """Arrival rate of each hour of the day, per second."""
        weights = self.hourly_profile or (1.0,) * 24
        mean = sum(weights) / len(weights)
        return [self.clips_per_hour * w / mean / 3_600 for w in weights]
