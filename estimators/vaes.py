"""Exact parameters and forward FLOPs of the frozen video VAEs (conventions of params.py and flops.py).

Shapes follow diffusers' ``AutoencoderKLMochi`` (Genmo, Mochi 1, 2024).
"""
from __future__ import annotations

from estimators.flops import FLOPS_PER_MAC, attention_flops, matmul_flops
from estimators.params import linear_params
from estimators.specs.vaes import VAEStage, VideoVAESpec


def vae_resnet_params(spec: VideoVAESpec, channels: int) -> int:
    """Residual block: GroupNorm (affine) + causal conv k^3, twice (diffusers MochiResnetBlock3D)."""
    conv = linear_params(channels * spec.conv_kernel**3, channels, bias=True)
    return 2 * (2 * channels + conv)


def vae_attention_params(channels: int) -> int:
    """GroupNorm (affine) + q,k,v without bias + out with bias (diffusers Attention, qk_norm='l2')."""
    return 2 * channels + 3 * channels * channels + linear_params(channels, channels, True)


def vae_stage_layers_params(spec: VideoVAESpec, stage: VAEStage) -> int:
    """The residual blocks (and attentions) of one stage."""
    per_block = vae_resnet_params(spec, stage.channels)
    if stage.attention:
        per_block += vae_attention_params(stage.channels)
    return stage.num_blocks * per_block


def vae_encoder_params(spec: VideoVAESpec) -> dict[str, int]:
    """Pixel projection, stages (each entered by a strided causal conv), GroupNorm, latent projection."""
    stages = spec.encoder_stages
    parts = {"proj_in": linear_params(spec.image_channels + spec.fourier_features, stages[0].channels, True)}
    for i, stage in enumerate(stages):
        entry = 0
        if i > 0:
            kernel = stage.temporal_expansion * stage.spatial_expansion**2
            entry = linear_params(stages[i - 1].channels * kernel, stage.channels, True)
        parts[f"stage{i}"] = entry + vae_stage_layers_params(spec, stage)
    last = stages[-1].channels
    # norm_out (affine GroupNorm) and proj_out to mean and log-variance, no bias
    parts["proj_out"] = 2 * last + last * 2 * spec.latent_channels
    return parts


def vae_decoder_params(spec: VideoVAESpec) -> dict[str, int]:
    """1x1x1 conv in, stages (each left by a linear depth-to-space-time), linear to pixels."""
    stages = spec.decoder_stages
    parts = {"conv_in": linear_params(spec.latent_channels, stages[0].channels, True)}
    for i, stage in enumerate(stages):
        exit_proj = 0
        if i + 1 < len(stages):
            expansion = stage.temporal_expansion * stage.spatial_expansion**2
            exit_proj = linear_params(stage.channels, stages[i + 1].channels * expansion, True)
        parts[f"stage{i}"] = vae_stage_layers_params(spec, stage) + exit_proj
    parts["proj_out"] = linear_params(stages[-1].channels, spec.image_channels, True)
    return parts


def conv_flops(positions: int, c_in: int, c_out: int, kernel_volume: int) -> int:
    """A convolution evaluated at ``positions`` output points (bias not counted)."""
    return FLOPS_PER_MAC * positions * c_in * c_out * kernel_volume


def vae_stage_flops(spec: VideoVAESpec, stage: VAEStage, frames: int, pixels: int) -> int:
    """Residual blocks (two causal k^3 convs) and temporal attentions of a stage at T x (H*W)."""
    positions = frames * pixels
    c = stage.channels
    per_block = 2 * conv_flops(positions, c, c, spec.conv_kernel**3)
    if stage.attention:
        # q, k, v and out projections per position; attention over frames, one sequence per pixel
        per_block += matmul_flops(positions, c, 4 * c) + attention_flops(frames, frames, c, batch=pixels)
    return stage.num_blocks * per_block


def vae_encoder_flops(spec: VideoVAESpec, frames: int, height: int, width: int) -> dict[str, int]:
    """Encoder forward for one clip; each later stage is entered by a strided causal conv."""
    stages = spec.encoder_stages
    parts = {"proj_in": matmul_flops(frames * height * width, spec.image_channels + spec.fourier_features, stages[0].channels)}
    t, h, w = frames, height, width
    for i, stage in enumerate(stages):
        entry = 0
        if i > 0:
            te, se = stage.temporal_expansion, stage.spatial_expansion
            # causal padding of te-1 frames at the front, kernel = stride: (T - 1) // te + 1 frames out
            t, h, w = (t - 1) // te + 1, h // se, w // se
            entry = conv_flops(t * h * w, stages[i - 1].channels, stage.channels, te * se * se)
        parts[f"stage{i}"] = entry + vae_stage_flops(spec, stage, t, h * w)
    parts["proj_out"] = matmul_flops(t * h * w, stages[-1].channels, 2 * spec.latent_channels)
    return parts


def vae_decoder_flops(spec: VideoVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> dict[str, int]:
    """Decoder forward for one clip; each stage but the last ends in a linear depth-to-space-time."""
    stages = spec.decoder_stages
    t, h, w = latent_frames, latent_height, latent_width
    parts = {"conv_in": matmul_flops(t * h * w, spec.latent_channels, stages[0].channels)}
    for i, stage in enumerate(stages):
        flops = vae_stage_flops(spec, stage, t, h * w)
        if i + 1 < len(stages):
            te, se = stage.temporal_expansion, stage.spatial_expansion
            flops += matmul_flops(t * h * w, stage.channels, stages[i + 1].channels * te * se * se)
            dropped = te - 1 if spec.decoder_drops_causal_frames else 0
            t, h, w = t * te - dropped, h * se, w * se
        parts[f"stage{i}"] = flops
    parts["proj_out"] = matmul_flops(t * h * w, stages[-1].channels, spec.image_channels)
    return parts
