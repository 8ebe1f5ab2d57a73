"""Frozen video-VAE specs (pixels to latents and back)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Depth, Size, SizeOrZero


class VAEStage(Spec):
    """One resolution level of a causal video VAE (diffusers MochiDown/Up/MidBlock3D)."""

    channels: Size = Field(description="Channels inside this stage.")
    num_blocks: Depth = Field(description="Residual blocks (two causal 3x3x3 convs each).")
    temporal_expansion: Size = Field(
        default=1, description="Temporal factor of the resampling that enters (encoder) or leaves (decoder) it."
    )
    spatial_expansion: Size = Field(default=1, description="Spatial factor of that resampling.")
    attention: bool = Field(default=False, description="Temporal-only causal self-attention after each block.")


class VideoVAESpec(Spec):
    """Causal video VAE: encoder and decoder as stage lists, in order of data flow."""

    family: Literal["video_vae"] = "video_vae"
    image_channels: Size = Field(description="Pixel channels (RGB: 3).")
    fourier_features: SizeOrZero = Field(
        description="Extra input channels from Fourier features of the pixels (Mochi: 12, so 15 in)."
    )
    latent_channels: Size = Field(description="Latent channels (Mochi: 12).")
    conv_kernel: Size = Field(default=3, description="Kernel side of the residual blocks' convs.")
    norm_groups: Size = Field(default=32, description="GroupNorm groups (affine).")
    attention_head_dim: Size = Field(default=32, description="Head width of the temporal attention.")
    encoder_stages: tuple[VAEStage, ...] = Field(
        min_length=1,
        description="Encoder stages in order; a stage's expansion is the strided conv that enters it "
        "(the first stage is entered by a linear pixel projection)."
    )
    decoder_stages: tuple[VAEStage, ...] = Field(
        min_length=1,
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

    @property
    def label(self) -> str:
        """Name used in messages."""
        return "causal video VAE (Mochi family)"

    @property
    def frame_rule_text(self) -> str:
        """The causal VAE keeps the first frame alone: frames = t k + 1."""
        return f"frames = {self.temporal_compression}k+1"


# diffusers' AutoencoderKLWan encodes 4 frames a chunk, so at most two halvings of time fit in a chunk.
WAN_MAX_TEMPORAL_DOWNSAMPLINGS = 2


class WanVAESpec(Spec):
    """Wan 2.1's causal 3D VAE (diffusers ``AutoencoderKLWan``; Wan team, "Wan: Open and Advanced
    Large-Scale Video Generative Models", 2025): RMS-normed causal residual blocks, 2D strided
    down-sampling with causal temporal convs, one single-head spatial attention in each mid block."""

    family: Literal["wan_vae"] = "wan_vae"
    image_channels: Size = Field(default=3, description="Pixel channels (in_channels = out_channels).")
    base_dim: Size = Field(description="Channels of the first level (Wan 2.1: 96).")
    latent_channels: Size = Field(description="Latent channels, z_dim (16).")
    dim_mult: tuple[Size, ...] = Field(description="Channel multipliers per level (1, 2, 4, 4).")
    num_res_blocks: Depth = Field(description="Residual blocks per encoder level (decoder: one more) (2).")
    temporal_downsample: tuple[bool, ...] = Field(
        description="Per down-sampling, whether time halves too (temperal_downsample: False, True, True)."
    )

    @model_validator(mode="after")
    def _one_flag_per_resampling(self) -> WanVAESpec:
        if len(self.temporal_downsample) != len(self.dim_mult) - 1:
            raise ValueError("temporal_downsample needs one entry per down-sampling (len(dim_mult) - 1)")
        if sum(self.temporal_downsample) > WAN_MAX_TEMPORAL_DOWNSAMPLINGS:
            raise ValueError("at most 2 temporal down-samplings: diffusers encodes 4 frames a chunk")
        return self

    @property
    def spatial_compression(self) -> int:
        """2 per down-sampling (Wan 2.1: 8)."""
        return 2 ** (len(self.dim_mult) - 1)

    @property
    def temporal_compression(self) -> int:
        """2 per temporal down-sampling (Wan 2.1: 4)."""
        return 2 ** sum(self.temporal_downsample)

    @property
    def label(self) -> str:
        """Name used in messages."""
        return "Wan 2.1 VAE"

    @property
    def frame_rule_text(self) -> str:
        """The causal VAE keeps the first frame alone: frames = t k + 1."""
        return f"frames = {self.temporal_compression}k+1"


class HunyuanVideoVAESpec(Spec):
    """HunyuanVideo's causal 3D VAE (diffusers ``AutoencoderKLHunyuanVideo``; Kong et al. 2024, arXiv
    2412.03603): GroupNorm causal residual blocks, strided causal down-sampling convs, nearest up-sampling
    with a causal conv, one full spatio-temporal attention (causal frame mask) in each mid block."""

    family: Literal["hunyuanvideo_vae"] = "hunyuanvideo_vae"
    image_channels: Size = Field(default=3, description="Pixel channels.")
    latent_channels: Size = Field(description="Latent channels (16).")
    block_out_channels: tuple[Size, ...] = Field(description="Channels per level (128, 256, 512, 512).")
    layers_per_block: Depth = Field(description="Residual blocks per encoder level (decoder: one more) (2).")
    spatial_compression: Size = Field(default=8, description="Spatial factor; the first log2 levels halve H, W.")
    temporal_compression: Literal[4] = Field(default=4, description="Temporal factor (diffusers supports 4).")
    mid_block_attention: bool = Field(default=True, description="Attention in the mid blocks.")
    temporal_tiling: bool = Field(
        default=True,
        description="diffusers' framewise encoding/decoding (on by default): clips longer than a tile are "
        "encoded as overlapping tiles of tile_frames + 1 frames every tile_stride_frames frames.",
    )
    tile_frames: Size = Field(default=16, description="tile_sample_min_num_frames (16).")
    tile_stride_frames: Size = Field(default=12, description="tile_sample_stride_num_frames (12).")

    @model_validator(mode="after")
    def _compression_fits_levels(self) -> HunyuanVideoVAESpec:
        halvings = self.spatial_compression.bit_length() - 1
        if 2**halvings != self.spatial_compression or halvings >= len(self.block_out_channels):
            raise ValueError("spatial_compression must be a power of 2 below 2 ** len(block_out_channels)")
        if len(self.block_out_channels) < 3:
            raise ValueError("block_out_channels needs at least 3 levels (two temporal halvings and a last level)")
        return self

    @property
    def label(self) -> str:
        """Name used in messages."""
        return "HunyuanVideo VAE"

    @property
    def frame_rule_text(self) -> str:
        """The causal VAE keeps the first frame alone: frames = t k + 1."""
        return f"frames = {self.temporal_compression}k+1"


class HunyuanVideo15VAESpec(Spec):
    """HunyuanVideo 1.5's causal 3D VAE (diffusers ``AutoencoderKLHunyuanVideo15``; Tencent Hunyuan 2025,
    HunyuanVideo 1.5 technical report): RMS-normed causal residual blocks, down-sampling by a causal conv to a
    fraction of the channels followed by space(-time)-to-depth with an averaged shortcut (DC-AE style), one
    full attention with a causal frame mask in each mid block, 16x spatial and 4x temporal compression into 32
    channels. With ``spatial_tiling`` (the HunyuanVideo 1.5 README's ``pipe.vae.enable_tiling()``), frames
    larger than a tile are encoded as overlapping tiles of tile_size pixels (tile_size / 16 latent pixels when
    decoding) every (1 - tile_overlap) x tile_size, each through the whole encoder or decoder."""

    family: Literal["hunyuanvideo15_vae"] = "hunyuanvideo15_vae"
    image_channels: Size = Field(default=3, description="Pixel channels.")
    latent_channels: Size = Field(description="Latent channels (32).")
    block_out_channels: tuple[Size, ...] = Field(description="Encoder channels per level (128, 256, 512, 1024, 1024).")
    layers_per_block: Depth = Field(description="Residual blocks per encoder level (decoder: one more) (2).")
    spatial_compression: Size = Field(default=16, description="Spatial factor; the first log2 levels halve H and W.")
    temporal_compression: Size = Field(default=4, description="Temporal factor; the log2 levels before the last spatial one halve time.")
    spatial_tiling: bool = Field(default=True, description="Encode and decode in overlapping spatial tiles (enable_tiling).")
    tile_size: Size = Field(default=256, description="tile_sample_min_height / width in pixels (256).")
    tile_overlap: float = Field(default=0.25, ge=0, lt=1, description="tile_overlap_factor (0.25): tiles start every (1 - overlap) x tile_size.")

    @model_validator(mode="after")
    def _compression_fits_levels(self) -> HunyuanVideo15VAESpec:
        spatial, temporal = self.spatial_compression.bit_length() - 1, self.temporal_compression.bit_length() - 1
        if 2**spatial != self.spatial_compression or 2**temporal != self.temporal_compression:
            raise ValueError("spatial_compression and temporal_compression must be powers of 2")
        if spatial >= len(self.block_out_channels) or temporal > spatial:
            raise ValueError("spatial_compression must be below 2 ** len(block_out_channels) and at least temporal_compression")
        if self.tile_size % self.spatial_compression:
            raise ValueError("tile_size must be a multiple of spatial_compression")
        return self

    @property
    def label(self) -> str:
        """Name used in messages."""
        return "HunyuanVideo 1.5 VAE"

    @property
    def frame_rule_text(self) -> str:
        """The causal VAE keeps the first frame alone: frames = t k + 1."""
        return f"frames = {self.temporal_compression}k+1"


class StepVideoVAESpec(Spec):
    """Step-Video-T2V's Video-VAE, version 2 (github.com/stepfun-ai/Step-Video-T2V stepvideo/vae/vae.py; Ma et al.
    2025, arXiv 2502.10248): clips are cut into chunks of ``chunk_frames`` frames, each encoded alone into
    ``chunk_latent_frames`` latent frames (17 -> 3) and decoded back chunk by chunk. Encoder: GroupNorm causal
    residual blocks over levels of encoder_base x encoder_mult channels, 2D strided down-sampling (or 3D at the
    temporal levels), a mid block with causal attention, then a conv to patch channels and 2x2x2
    space-time-to-depth (the 'dual path': an averaged shortcut beside it). Decoder mirrors it with nearest
    up-sampling followed by a conv (2D) or a residual conv block (3D)."""

    family: Literal["step_video_vae"] = "step_video_vae"
    image_channels: Size = Field(default=3, description="Pixel channels.")
    latent_channels: Size = Field(description="Latent channels, z_channels (Step-Video: 64).")
    encoder_base: Size = Field(description="Encoder channel unit, ch (32).")
    encoder_mult: tuple[Size, ...] = Field(description="Encoder channel multipliers per level, ch_mult (4, 8, 16, 16).")
    encoder_temporal_levels: tuple[SizeOrZero, ...] = Field(description="Encoder levels whose down-sampling also halves time, down_sampling_layer (1, 2).")
    decoder_base: Size = Field(description="Decoder channel unit, ch (128).")
    decoder_mult: tuple[Size, ...] = Field(description="Decoder channel multipliers per level, ch_mult (1, 2, 4, 4).")
    decoder_temporal_levels: tuple[SizeOrZero, ...] = Field(description="Decoder levels whose up-sampling also doubles time, temporal_up_layers (2, 3).")
    num_res_blocks: Depth = Field(description="Residual blocks per encoder level (decoder: one more) (2).")
    patch_channels: Size = Field(description="Channels of the 2x2x2 patchified latent before conv_out: 4 x z x 2^3 (2048).")
    chunk_frames: Size = Field(default=17, description="Frames of a chunk encoded alone (AutoencoderKL.frame_len).")
    chunk_latent_frames: Size = Field(default=3, description="Latent frames of a chunk (latent_len of version 2).")

    @model_validator(mode="after")
    def _levels_match(self) -> StepVideoVAESpec:
        if len(self.encoder_mult) != len(self.decoder_mult):
            raise ValueError("encoder_mult and decoder_mult need one entry per level each")
        levels = len(self.encoder_mult)
        if any(not 0 <= i < levels - 1 for i in self.encoder_temporal_levels) or any(not 0 < i < levels for i in self.decoder_temporal_levels):
            raise ValueError("temporal levels must name levels that resample (encoder: all but the last; decoder: all but level 0)")
        return self

    @property
    def spatial_compression(self) -> int:
        """2 per resampled level and 2 for the final patchify (Step-Video: 16)."""
        return 2 ** len(self.encoder_mult)

    @property
    def temporal_compression(self) -> int:
        """Frames of a chunk per latent frame, rounded down (17 / 3: 5; the model card's '8x' counts 16 frames
        into 2 after the first)."""
        return self.chunk_frames // self.chunk_latent_frames

    @property
    def label(self) -> str:
        """Name used in messages."""
        return "Step-Video VAE"

    @property
    def frame_rule_text(self) -> str:
        """Frames come in whole chunks."""
        return f"frames = {self.chunk_frames}k ({self.chunk_latent_frames} latent frames a chunk)"


class CogVideoXVAESpec(Spec):
    """CogVideoX's 3D causal VAE (diffusers ``AutoencoderKLCogVideoX``; Yang et al. 2024, arXiv 2408.06072):
    GroupNorm causal residual blocks; 2D strided down-sampling after temporal average pooling; the decoder's
    norms are spatial norms conditioned on the latents (Zhu et al. 2022, MoVQ)."""

    family: Literal["cogvideox_vae"] = "cogvideox_vae"
    image_channels: Size = Field(default=3, description="Pixel channels.")
    latent_channels: Size = Field(description="Latent channels (16).")
    block_out_channels: tuple[Size, ...] = Field(description="Channels per level (128, 256, 256, 512).")
    layers_per_block: Depth = Field(description="Residual blocks per encoder level (decoder: one more) (3).")
    temporal_compression: Size = Field(default=4, description="Temporal factor; the first log2 levels halve time.")
    sample_frames_batch: Size = Field(
        default=8, description="diffusers encodes 8 frames at a time (the first batch takes the remainder too)."
    )
    latent_frames_batch: Size = Field(default=2, description="diffusers decodes 2 latent frames at a time.")

    @model_validator(mode="after")
    def _compression_fits_levels(self) -> CogVideoXVAESpec:
        halvings = self.temporal_compression.bit_length() - 1
        if 2**halvings != self.temporal_compression or halvings >= len(self.block_out_channels):
            raise ValueError("temporal_compression must be a power of 2 below 2 ** len(block_out_channels)")
        return self

    @property
    def spatial_compression(self) -> int:
        """Every level but the last halves H and W (8)."""
        return 2 ** (len(self.block_out_channels) - 1)

    @property
    def label(self) -> str:
        """Name used in messages."""
        return "CogVideoX VAE"

    @property
    def frame_rule_text(self) -> str:
        """The causal VAE keeps the first frame alone: frames = t k + 1."""
        return f"frames = {self.temporal_compression}k+1"


class LTXVideoVAESpec(Spec):
    """LTX-Video 0.9.0's VAE (diffusers ``AutoencoderKLLTXVideo``; HaCohen et al. 2024, arXiv 2501.00103):
    pixels patchified 4x4 into channels, causal encoder of RMS-normed residual blocks with strided
    3x3x3 down-sampling convs, non-causal decoder with conv + depth-to-space up-sampling. Time is not
    patchified (patch_size_t 1, as in the published checkpoints); 0.9.1+ decoders (timestep conditioning,
    noise injection, residual up-sampling) are not covered."""

    family: Literal["ltx_video_vae"] = "ltx_video_vae"
    image_channels: Size = Field(default=3, description="Pixel channels.")
    latent_channels: Size = Field(description="Latent channels (128).")
    patch_size: Size = Field(description="Spatial patchify factor before the first conv (4).")
    block_out_channels: tuple[Size, ...] = Field(description="Encoder channels per level (128, 256, 512, 512).")
    layers_per_block: tuple[Depth, ...] = Field(
        description="Encoder residual blocks per level, then the mid block's (4, 3, 3, 3, 4)."
    )
    spatio_temporal_scaling: tuple[bool, ...] = Field(
        description="Per encoder level, whether it ends in a stride-2 (t, h, w) conv (True, True, True, False)."
    )
    decoder_block_out_channels: tuple[Size, ...] = Field(description="Decoder channels (128, 256, 512, 512).")
    decoder_layers_per_block: tuple[Depth, ...] = Field(description="Decoder blocks (4, 3, 3, 3, 4).")
    decoder_spatio_temporal_scaling: tuple[bool, ...] = Field(description="Decoder up-samplings (True, True, True, False).")

    @model_validator(mode="after")
    def _one_entry_per_level(self) -> LTXVideoVAESpec:
        levels, decoder_levels = len(self.block_out_channels), len(self.decoder_block_out_channels)
        if len(self.layers_per_block) != levels + 1 or len(self.spatio_temporal_scaling) != levels:
            raise ValueError("layers_per_block needs one entry per level plus the mid block's; spatio_temporal_scaling one per level")
        if len(self.decoder_layers_per_block) != decoder_levels + 1 or len(self.decoder_spatio_temporal_scaling) != decoder_levels:
            raise ValueError("decoder_layers_per_block / decoder_spatio_temporal_scaling: one entry per decoder level (+1 for layers)")
        if sum(self.spatio_temporal_scaling) != sum(self.decoder_spatio_temporal_scaling):
            raise ValueError("encoder and decoder must down- and up-sample the same number of times")
        return self

    @property
    def temporal_compression(self) -> int:
        """2 per scaling level (LTX-Video: 8)."""
        return 2 ** sum(self.spatio_temporal_scaling)

    @property
    def spatial_compression(self) -> int:
        """Patchify times 2 per scaling level (LTX-Video: 32)."""
        return self.patch_size * self.temporal_compression

    @property
    def label(self) -> str:
        """Name used in messages."""
        return "LTX-Video VAE"

    @property
    def frame_rule_text(self) -> str:
        """The causal encoder keeps the first frame alone: frames = t k + 1."""
        return f"frames = {self.temporal_compression}k+1"


VAESpec = Annotated[
    VideoVAESpec | WanVAESpec | HunyuanVideoVAESpec | HunyuanVideo15VAESpec | StepVideoVAESpec | CogVideoXVAESpec
    | LTXVideoVAESpec,
    Field(discriminator="family"),
]
