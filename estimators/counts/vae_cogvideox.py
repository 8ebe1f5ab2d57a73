"""CogVideoX VAE (diffusers ``AutoencoderKLCogVideoX``): parameters and the FLOPs encode/decode execute.

diffusers encodes 8 frames at a time (the first batch also takes the frames beyond a multiple of 8:
49 = 9 + 5 x 8) and decodes 2 latent frames at a time (13 = 3 + 5 x 2), carrying each causal conv's
last 2 input frames to the next batch; the first batch repeats its first frame in front. Each causal
conv thus outputs one frame per input frame of its batch, and the temporal resamplers act per batch
(an odd batch keeps its first frame alone), so the walk goes batch by batch. CogVideoXSafeConv3d's
splitting of large inputs overlaps by kernel - 1 frames and leaves the counted products unchanged.
Tiling off; the CogVideoX checkpoints use no quant_conv / post_quant_conv.
"""
from __future__ import annotations

from estimators.counts.vae_tally import CONV3, POINT3, Tally
from estimators.specs.vaes import CogVideoXVAESpec

SPATIAL3 = (3, 3)
# Encoder and decoder mid blocks hold two residual blocks and no attention.
MID_RESIDUALS = 2


def _group_norm(tally: Tally, c: int, latent_channels: int, positions: int, spatial: bool) -> None:
    """GroupNorm (affine); in the decoder a spatial norm adds two 1x1x1 convs of the latents (scale, shift)."""
    tally.norm(c)
    if spatial:
        tally.conv(latent_channels, c, POINT3, positions)
        tally.conv(latent_channels, c, POINT3, positions)


def _residual(tally: Tally, c_in: int, c_out: int, positions: int, latent_channels: int, spatial: bool) -> None:
    """CogVideoXResnetBlock3D: norm, causal 3x3x3 conv, twice; 1x1x1 shortcut conv when widths differ."""
    _group_norm(tally, c_in, latent_channels, positions, spatial)
    tally.conv(c_in, c_out, CONV3, positions)
    _group_norm(tally, c_out, latent_channels, positions, spatial)
    tally.conv(c_out, c_out, CONV3, positions)
    if c_in != c_out:
        tally.conv(c_in, c_out, POINT3, positions)


def _halve_time(frames: int) -> int:
    """Average pooling by 2 over time; an odd count keeps its first frame alone."""
    return 1 + (frames - 1) // 2 if frames % 2 else frames // 2


def _double_time(frames: int) -> int:
    """Nearest up-sampling by 2 over time; an odd count above 1 keeps its first frame single."""
    if frames == 1:
        return 1
    return 1 + 2 * (frames - 1) if frames % 2 else 2 * frames


def _encode_batch(spec: CogVideoXVAESpec, tally: Tally, frames: int, height: int, width: int) -> None:
    channels, z = spec.block_out_channels, spec.latent_channels
    time_levels = spec.temporal_compression.bit_length() - 1
    t, h, w = frames, height, width
    tally.part = "conv_in"
    tally.conv(spec.image_channels, channels[0], CONV3, t * h * w)
    c = channels[0]
    for i, out in enumerate(channels):
        tally.part = f"level{i}"
        for _ in range(spec.layers_per_block):
            _residual(tally, c, out, t * h * w, z, spatial=False)
            c = out
        if i < len(channels) - 1:
            t = _halve_time(t) if i < time_levels else t
            # pad (0, 1, 0, 1), then a 3x3 conv of stride 2 on every frame
            h, w = (h - 2) // 2 + 1, (w - 2) // 2 + 1
            tally.conv(c, c, SPATIAL3, t * h * w)
    tally.part = "mid"
    for _ in range(MID_RESIDUALS):
        _residual(tally, c, c, t * h * w, z, spatial=False)
    tally.part = "conv_out"
    tally.norm(c)
    tally.conv(c, 2 * z, CONV3, t * h * w)


def _decode_batch(spec: CogVideoXVAESpec, tally: Tally, latent_frames: int, latent_height: int, latent_width: int) -> None:
    channels, z = tuple(reversed(spec.block_out_channels)), spec.latent_channels
    time_levels = spec.temporal_compression.bit_length() - 1
    t, h, w = latent_frames, latent_height, latent_width
    tally.part = "conv_in"
    tally.conv(z, channels[0], CONV3, t * h * w)
    c = channels[0]
    tally.part = "mid"
    for _ in range(MID_RESIDUALS):
        _residual(tally, c, c, t * h * w, z, spatial=True)
    for i, out in enumerate(channels):
        tally.part = f"level{i}"
        for _ in range(spec.layers_per_block + 1):
            _residual(tally, c, out, t * h * w, z, spatial=True)
            c = out
        if i < len(channels) - 1:
            t = _double_time(t) if i < time_levels else t
            h, w = 2 * h, 2 * w
            tally.conv(c, c, SPATIAL3, t * h * w)
    tally.part = "conv_out"
    _group_norm(tally, c, z, t * h * w, spatial=True)
    tally.conv(c, spec.image_channels, CONV3, t * h * w)


def _batches(frames: int, batch: int) -> list[int]:
    """diffusers' frame batches: frames // batch of them (at least one), the first also takes the remainder."""
    count = max(frames // batch, 1)
    return [frames - (count - 1) * batch] + [batch] * (count - 1)


def cogvideox_encoder(spec: CogVideoXVAESpec, frames: int, height: int, width: int) -> Tally:
    """What ``encode`` runs on one clip (tiling off)."""
    tally = Tally()
    for batch in _batches(frames, spec.sample_frames_batch):
        _encode_batch(spec, tally, batch, height, width)
        tally.count_params = False
    return tally


def cogvideox_decoder(spec: CogVideoXVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> Tally:
    """What ``decode`` runs on one clip's latents (tiling off)."""
    tally = Tally()
    for batch in _batches(latent_frames, spec.latent_frames_batch):
        _decode_batch(spec, tally, batch, latent_height, latent_width)
        tally.count_params = False
    return tally
