"""Frozen video-VAE specs (pixels to latents and back)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from estimators.specs.base import Spec


class VAEStage(Spec):
    """One resolution level of a causal video VAE (diffusers MochiDown/Up/MidBlock3D)."""

    channels: PositiveInt = Field(description="Channels inside this stage.")
    num_blocks: PositiveInt = Field(description="Residual blocks (two causal 3x3x3 convs each).")
    temporal_expansion: PositiveInt = Field(
        default=1, description="Temporal factor of the resampling that enters (encoder) or leaves (decoder) it."
    )
    spatial_expansion: PositiveInt = Field(default=1, description="Spatial factor of that resampling.")
    attention: bool = Field(default=False, description="Temporal-only causal self-attention after each block.")


class VideoVAESpec(Spec):
    """Causal video VAE: encoder and decoder as stage lists, in order of data flow."""

    family: Literal["video_vae"] = "video_vae"
    image_channels: PositiveInt = Field(description="Pixel channels (RGB: 3).")
    fourier_features: int = Field(
        ge=0, description="Extra input channels from Fourier features of the pixels (Mochi: 12, so 15 in)."
    )
    latent_channels: PositiveInt = Field(description="Latent channels (Mochi: 12).")
    conv_kernel: PositiveInt = Field(default=3, description="Kernel side of the residual blocks' convs.")
    norm_groups: PositiveInt = Field(default=32, description="GroupNorm groups (affine).")
    attention_head_dim: PositiveInt = Field(default=32, description="Head width of the temporal attention.")
    encoder_stages: tuple[VAEStage, ...] = Field(
        description="Encoder stages in order; a stage's expansion is the strided conv that enters it "
        "(the first stage is entered by a linear pixel projection)."
    )
    decoder_stages: tuple[VAEStage, ...] = Field(
        description="Decoder stages in order; a stage's expansion is the linear depth-to-space-time that "
        "leaves it (the last stage is left by a linear projection to pixels)."
    )
    decoder_drops_causal_frames: bool = Field(
        description="Genmo's decoder drops the first (t-1) frames after each temporal up-sampling, so T latent "
        "frames decode to (T-1)*t+1; diffusers keeps them (T*t frames)."
    )

    @property
    def spatial_compression(self) -> int:
        """Product of the encoder's spatial factors (Mochi: 8)."""
        factor = 1
        for stage in self.encoder_stages:
            factor *= stage.spatial_expansion
        return factor

    @property
    def temporal_compression(self) -> int:
        """Product of the encoder's temporal factors (Mochi: 6)."""
        factor = 1
        for stage in self.encoder_stages:
            factor *= stage.temporal_expansion
        return factor
