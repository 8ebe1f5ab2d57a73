"""HunyuanVideo VAE (diffusers ``AutoencoderKLHunyuanVideo``): parameters and the FLOPs encode/decode execute.

With ``temporal_tiling`` (diffusers' default ``use_framewise_encoding/decoding``), a clip longer than a
tile is encoded as overlapping tiles: frames [i, i + tile_frames + 1) for i = 0, stride, 2 stride, ...
(decoding: latent frames [j, j + tile_frames/4 + 1) every stride/4), each run through the whole
encoder; overlaps are computed twice and blended. Without it the whole clip runs at once, and the mid
block's attention spans every latent position of the clip. Spatial tiling is off.

Encoder part includes ``quant_conv``; decoder part includes ``post_quant_conv``.
"""
from __future__ import annotations

from estimators.counts.vae_tally import CONV3, POINT3, Tally
from estimators.specs.vaes import HunyuanVideoVAESpec

# the diffusers Attention of the mid block: q, k, v and out projections, all with bias.
ATTENTION_PROJECTIONS = 4


def _residual(tally: Tally, c_in: int, c_out: int, positions: int) -> None:
    """HunyuanVideoResnetBlockCausal3D: GroupNorm, causal 3x3x3 conv, twice; 1x1x1 shortcut if widths differ."""
    tally.resnet_block(c_in, c_out, positions)


def _mid_block(spec: HunyuanVideoVAESpec, tally: Tally, c: int, positions: int) -> None:
    """Residual, one-head attention over all T x H x W positions (GroupNorm, q/k/v/out), residual."""
    _residual(tally, c, c, positions)
    if spec.mid_block_attention:
        tally.norm(c)
        for _ in range(ATTENTION_PROJECTIONS):
            tally.linear(c, c, positions)
        tally.attention(1, positions, c)
        # diffusers builds the causal frame mask as a dense positions x positions tensor
        tally.transient(positions * positions)
    _residual(tally, c, c, positions)


def _time_resampled_levels(spec: HunyuanVideoVAESpec) -> range:
    """Levels whose resampler also halves / doubles time: the two before the last (diffusers, ratio 4)."""
    last = len(spec.block_out_channels) - 1
    return range(last - 2, last)


def _encode_tile(spec: HunyuanVideoVAESpec, tally: Tally, frames: int, height: int, width: int) -> None:
    """Encoder + quant_conv on one clip, whole."""
    channels = spec.block_out_channels
    spatial_levels = spec.spatial_compression.bit_length() - 1
    t, h, w = frames, height, width
    tally.part = "conv_in"
    tally.conv(spec.image_channels, channels[0], CONV3, t * h * w)
    c = channels[0]
    for i, out in enumerate(channels):
        tally.part = f"level{i}"
        for _ in range(spec.layers_per_block):
            _residual(tally, c, out, t * h * w)
            c = out
        s = 2 if i < spatial_levels else 1
        st = 2 if i in _time_resampled_levels(spec) else 1
        if s > 1 or st > 1:
            # causal 3x3x3 conv, stride (st, s, s), time padded 2 in front, space 1 each side
            t, h, w = (t - 1) // st + 1, (h - 1) // s + 1, (w - 1) // s + 1
            tally.conv(c, c, CONV3, t * h * w)
    tally.part = "mid"
    _mid_block(spec, tally, c, t * h * w)
    z2 = 2 * spec.latent_channels
    tally.part = "conv_out"
    tally.norm(c)
    tally.conv(c, z2, CONV3, t * h * w)
    tally.part = "quant_conv"
    tally.conv(z2, z2, POINT3, t * h * w)


def _decode_tile(spec: HunyuanVideoVAESpec, tally: Tally, latent_frames: int, latent_height: int, latent_width: int) -> None:
    """post_quant_conv + decoder on one clip's latents, whole."""
    channels = tuple(reversed(spec.block_out_channels))
    spatial_levels = spec.spatial_compression.bit_length() - 1
    z = spec.latent_channels
    t, h, w = latent_frames, latent_height, latent_width
    tally.part = "post_quant_conv"
    tally.conv(z, z, POINT3, t * h * w)
    tally.part = "conv_in"
    tally.conv(z, channels[0], CONV3, t * h * w)
    tally.part = "mid"
    _mid_block(spec, tally, channels[0], t * h * w)
    c = channels[0]
    for i, out in enumerate(channels):
        tally.part = f"level{i}"
        for _ in range(spec.layers_per_block + 1):
            _residual(tally, c, out, t * h * w)
            c = out
        s = 2 if i < spatial_levels else 1
        st = 2 if i in _time_resampled_levels(spec) else 1
        if s > 1 or st > 1:
            # nearest up-sampling (the first frame in space only), then a causal 3x3x3 conv
            t, h, w = (t - 1) * st + 1, h * s, w * s
            tally.conv(c, c, CONV3, t * h * w)
    tally.part = "conv_out"
    tally.norm(c)
    tally.conv(c, spec.image_channels, CONV3, t * h * w)


def _tiles(total: int, tile: int, stride: int) -> list[int]:
    """Lengths of diffusers' temporal tiles: [i, i + tile + 1) for i = 0, stride, ... below total."""
    return [min(tile + 1, total - i) for i in range(0, total, stride)]


def hunyuan_encoder(spec: HunyuanVideoVAESpec, frames: int, height: int, width: int) -> Tally:
    """What ``encode`` runs on one clip (spatial tiling off)."""
    tally = Tally()
    if spec.temporal_tiling and frames > spec.tile_frames:
        for tile in _tiles(frames, spec.tile_frames, spec.tile_stride_frames):
            _encode_tile(spec, tally, tile, height, width)
            tally.count_params = False
    else:
        _encode_tile(spec, tally, frames, height, width)
    return tally


def hunyuan_decoder(spec: HunyuanVideoVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> Tally:
    """What ``decode`` runs on one clip's latents (spatial tiling off)."""
    tally = Tally()
    tile, stride = spec.tile_frames // spec.temporal_compression, spec.tile_stride_frames // spec.temporal_compression
    if spec.temporal_tiling and latent_frames > tile:
        for frames in _tiles(latent_frames, tile, stride):
            _decode_tile(spec, tally, frames, latent_height, latent_width)
            tally.count_params = False
    else:
        _decode_tile(spec, tally, latent_frames, latent_height, latent_width)
    return tally
