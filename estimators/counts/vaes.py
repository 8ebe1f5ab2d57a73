"""Exact parameters and forward FLOPs of the frozen video VAEs (conventions of params.py and flops.py).

The public functions take one VAE spec and dispatch on its family. The Mochi family (``VideoVAESpec``,
stage lists) is counted here, shapes after diffusers' ``AutoencoderKLMochi`` (Genmo, Mochi 1, 2024);
the others walk their diffusers architecture in vae_wan.py, vae_hunyuan.py, vae_cogvideox.py and
vae_ltx.py. Encoder counts include what ``encode`` runs after the encoder (quant_conv), decoder counts
what ``decode`` runs before it (post_quant_conv).
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.counts.flops import FLOPS_PER_MAC, attention_flops, matmul_flops
from estimators.counts.params import linear_params
from estimators.counts.vae_cogvideox import cogvideox_decoder, cogvideox_encoder
from estimators.counts.vae_hunyuan import hunyuan_decoder, hunyuan_encoder
from estimators.counts.vae_hunyuan15 import hunyuan15_decoder, hunyuan15_encoder
from estimators.counts.vae_ltx import ltx_decoder, ltx_encoder
from estimators.counts.vae_step import step_decoder, step_encoder
from estimators.counts.vae_tally import Tally
from estimators.counts.vae_wan import wan_decoder, wan_encoder
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


def mochi_encoder_params(spec: VideoVAESpec) -> dict[str, int]:
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


def mochi_decoder_params(spec: VideoVAESpec) -> dict[str, int]:
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


def mochi_encoder_flops(spec: VideoVAESpec, frames: int, height: int, width: int) -> dict[str, int]:
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


def mochi_decoder_flops(spec: VideoVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> dict[str, int]:
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


def mochi_encoder_working_elements(spec: VideoVAESpec, frames: int, height: int, width: int) -> int:
    """Largest stage activation (T x H x W x C) of the encoder on one clip."""
    t, h, w = frames, height, width
    largest = 0
    for i, stage in enumerate(spec.encoder_stages):
        if i > 0:
            t, h, w = (t - 1) // stage.temporal_expansion + 1, h // stage.spatial_expansion, w // stage.spatial_expansion
        largest = max(largest, t * h * w * stage.channels)
    return largest


# Walkers of the diffusers architectures: (spec, frames, height, width) -> Tally.
_ENCODER_WALKS = {"wan_vae": wan_encoder, "hunyuanvideo_vae": hunyuan_encoder, "hunyuanvideo15_vae": hunyuan15_encoder,
                  "step_video_vae": step_encoder, "cogvideox_vae": cogvideox_encoder, "ltx_video_vae": ltx_encoder}
_DECODER_WALKS = {"wan_vae": wan_decoder, "hunyuanvideo_vae": hunyuan_decoder, "hunyuanvideo15_vae": hunyuan15_decoder,
                  "step_video_vae": step_decoder, "cogvideox_vae": cogvideox_decoder, "ltx_video_vae": ltx_decoder}


def _smallest_clip_walk(walks: dict, spec, latent: bool) -> Tally:
    """Walk the smallest clip (one frame, one latent pixel): every layer is visited, so every weight counted."""
    side = 1 if latent else spec.spatial_compression
    return walks[spec.family](spec, 1, side, side)


def vae_encoder_params(spec) -> dict[str, int]:
    """Encoder parameters by part (parts sum to params.vae_encoder)."""
    if isinstance(spec, VideoVAESpec):
        return mochi_encoder_params(spec)
    return dict(_smallest_clip_walk(_ENCODER_WALKS, spec, latent=False).params)


def vae_decoder_params(spec) -> dict[str, int]:
    """Decoder parameters by part (parts sum to params.vae_decoder)."""
    if isinstance(spec, VideoVAESpec):
        return mochi_decoder_params(spec)
    return dict(_smallest_clip_walk(_DECODER_WALKS, spec, latent=True).params)


def vae_encoder_flops(spec, frames: int, height: int, width: int) -> dict[str, int]:
    """Forward FLOPs of encoding one clip, by part."""
    if isinstance(spec, VideoVAESpec):
        return mochi_encoder_flops(spec, frames, height, width)
    return dict(_ENCODER_WALKS[spec.family](spec, frames, height, width).flops)


def vae_decoder_flops(spec, latent_frames: int, latent_height: int, latent_width: int) -> dict[str, int]:
    """Forward FLOPs of decoding one clip's latents, by part."""
    if isinstance(spec, VideoVAESpec):
        return mochi_decoder_flops(spec, latent_frames, latent_height, latent_width)
    return dict(_DECODER_WALKS[spec.family](spec, latent_frames, latent_height, latent_width).flops)


def vae_encoder_working_elements(spec, frames: int, height: int, width: int) -> int:
    """Largest transient tensor of encoding one clip, elements (Mochi: widest stage; others: widest conv
    output, or HunyuanVideo's materialised causal attention mask). Attention scores are left out: fused
    attention kernels do not hold them."""
    if isinstance(spec, VideoVAESpec):
        return mochi_encoder_working_elements(spec, frames, height, width)
    return _ENCODER_WALKS[spec.family](spec, frames, height, width).largest_transient


@dataclass(frozen=True)
class DecoderActivity:
    """What decoding one clip's latents puts through memory: the largest transient tensor, the elements every
    conv and dense layer writes (element-wise ops stream them), and the layers run."""

    largest_elements: int
    written_elements: int
    layers: int


def mochi_decoder_activity(spec: VideoVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> DecoderActivity:
    """Decoder layers in the order of mochi_decoder_flops: conv in, each stage's two convs a block (and its
    attention's four projections), the exit projection, the projection to pixels."""
    stages = spec.decoder_stages
    t, h, w = latent_frames, latent_height, latent_width
    outputs = [t * h * w * stages[0].channels]
    for i, stage in enumerate(stages):
        per_block = [t * h * w * stage.channels] * (2 + (4 if stage.attention else 0))
        outputs += per_block * stage.num_blocks
        if i + 1 < len(stages):
            te, se = stage.temporal_expansion, stage.spatial_expansion
            outputs.append(t * h * w * stages[i + 1].channels * te * se * se)
            dropped = te - 1 if spec.decoder_drops_causal_frames else 0
            t, h, w = t * te - dropped, h * se, w * se
    outputs.append(t * h * w * spec.image_channels)
    return DecoderActivity(largest_elements=max(outputs), written_elements=sum(outputs), layers=len(outputs))


def vae_decoder_activity(spec, latent_frames: int, latent_height: int, latent_width: int) -> DecoderActivity:
    """The decoder's largest transient tensor, elements written and layers run on one clip's latents (as
    vae_decoder_flops walks it)."""
    if isinstance(spec, VideoVAESpec):
        return mochi_decoder_activity(spec, latent_frames, latent_height, latent_width)
    tally = _DECODER_WALKS[spec.family](spec, latent_frames, latent_height, latent_width)
    return DecoderActivity(largest_elements=tally.largest_transient, written_elements=tally.written_elements, layers=tally.layers_run)
