"""Wan 2.1 VAE (diffusers ``AutoencoderKLWan``): parameters and the FLOPs its encode/decode execute.

diffusers encodes a 4k+1-frame clip in chunks (the first frame alone, then 4 frames at a time) and
decodes one latent frame at a time, carrying the last frames of every causal conv in a cache. A causal
3x3x3 conv then sees each frame once (cached or zero frames in front), so over the clip it runs on every
frame of its level; the temporal resamplers skip the first chunk (the first frame passes through), which
is where chunked counts differ from a conv over the whole clip. Counted with tiling off.

Encoder part includes ``quant_conv``; decoder part includes ``post_quant_conv`` (both 1x1x1 convs that
run in encode / decode respectively).
"""
from __future__ import annotations

from estimators.counts.vae_tally import CONV3, POINT3, Tally
from estimators.specs.vaes import WanVAESpec

SPATIAL3 = (3, 3)
POINT2 = (1, 1)
TEMPORAL3 = (3, 1, 1)
# WanRMS_norm holds one scale per channel (no bias).
RMS_NORM_PARAMS_PER_CHANNEL = 1
# to_qkv of the single-head attention.
QKV = 3


def _residual(tally: Tally, c_in: int, c_out: int, positions: int) -> None:
    """WanResidualBlock: RMS norm, causal 3x3x3 conv, twice; 1x1x1 shortcut conv when widths differ."""
    tally.resnet_block(c_in, c_out, positions, RMS_NORM_PARAMS_PER_CHANNEL)


def _mid_block(tally: Tally, c: int, frames: int, pixels: int) -> None:
    """WanMidBlock: residual, single-head attention over each frame's pixels (1x1 qkv and proj), residual."""
    _residual(tally, c, c, frames * pixels)
    tally.norm(c, RMS_NORM_PARAMS_PER_CHANNEL)
    tally.conv(c, QKV * c, POINT2, frames * pixels)
    tally.attention(frames, pixels, c)
    tally.conv(c, c, POINT2, frames * pixels)
    _residual(tally, c, c, frames * pixels)


def wan_encoder(spec: WanVAESpec, frames: int, height: int, width: int) -> Tally:
    """Encoder + quant_conv on one clip of ``frames`` (t k + 1) x ``height`` x ``width`` pixels."""
    tally = Tally()
    dims = [spec.base_dim * m for m in (1, *spec.dim_mult)]
    t, h, w = frames, height, width
    tally.part = "conv_in"
    tally.conv(spec.image_channels, dims[0], CONV3, t * h * w)
    c = dims[0]
    for i, out_dim in enumerate(dims[1:]):
        tally.part = f"level{i}"
        for _ in range(spec.num_res_blocks):
            _residual(tally, c, out_dim, t * h * w)
            c = out_dim
        if i < len(spec.temporal_downsample):
            # ZeroPad2d(0, 1, 0, 1) then a 3x3 conv of stride 2
            h, w = (h - 2) // 2 + 1, (w - 2) // 2 + 1
            tally.conv(c, c, SPATIAL3, t * h * w)
            if spec.temporal_downsample[i]:
                # every chunk after the first: its frames plus one cached, kernel 3, stride 2, no padding
                t = (t - 1) // 2
                tally.conv(c, c, TEMPORAL3, t * h * w)
                t += 1
    tally.part = "mid"
    _mid_block(tally, c, t, h * w)
    z2 = 2 * spec.latent_channels
    tally.part = "conv_out"
    tally.norm(c, RMS_NORM_PARAMS_PER_CHANNEL)
    tally.conv(c, z2, CONV3, t * h * w)
    tally.part = "quant_conv"
    tally.conv(z2, z2, POINT3, t * h * w)
    return tally


def wan_decoder(spec: WanVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> Tally:
    """post_quant_conv + decoder on one clip's latents (T latent frames decode to 4(T-1)+1 frames)."""
    tally = Tally()
    z = spec.latent_channels
    t, h, w = latent_frames, latent_height, latent_width
    tally.part = "post_quant_conv"
    tally.conv(z, z, POINT3, t * h * w)
    dims = [spec.base_dim * m for m in (spec.dim_mult[-1], *reversed(spec.dim_mult))]
    tally.part = "conv_in"
    tally.conv(z, dims[0], CONV3, t * h * w)
    tally.part = "mid"
    _mid_block(tally, dims[0], t, h * w)
    c = dims[0]
    temporal_upsample = tuple(reversed(spec.temporal_downsample))
    for i, out_dim in enumerate(dims[1:]):
        tally.part = f"level{i}"
        for _ in range(spec.num_res_blocks + 1):
            _residual(tally, c, out_dim, t * h * w)
            c = out_dim
        if i < len(temporal_upsample):
            if temporal_upsample[i]:
                # every chunk after the first: a causal (3,1,1) conv to 2c channels, split into two frames
                tally.conv(c, 2 * c, TEMPORAL3, (t - 1) * h * w)
                t = 2 * (t - 1) + 1
            # nearest-exact 2x, then a 3x3 conv that halves the channels
            h, w = 2 * h, 2 * w
            tally.conv(c, c // 2, SPATIAL3, t * h * w)
            c //= 2
    tally.part = "conv_out"
    tally.norm(c, RMS_NORM_PARAMS_PER_CHANNEL)
    tally.conv(c, spec.image_channels, CONV3, t * h * w)
    return tally
