"""HunyuanVideo 1.5 VAE (diffusers ``AutoencoderKLHunyuanVideo15``): parameters and the FLOPs encode/decode execute.

Every causal 3x3x3 conv pads time (2 frames in front) and space (1 each side), so it runs at its output's
T x H x W positions. Down-sampling: a causal conv to out/f channels (f = 4 in space, 8 in space-time) at the
input's resolution, then space(-time)-to-depth; the first frame is packed in space only, so time goes
T -> 1 + (T - 1)/2. Up-sampling mirrors it: a causal conv to out x f channels, then depth-to-space(-time).
The mid block's attention is one head over all T x H x W positions of the tile with a dense causal frame
mask (positions x positions, built in the activation dtype). Shortcuts (channel means and repeats) and
norms cost no counted FLOPs.

With ``spatial_tiling`` a frame larger than a tile is cut into tiles [i, i + tile) every (1 - overlap) x tile
(edge tiles smaller), each through the whole encoder (decoder: latent tiles of tile / 16); overlaps are
computed twice and blended.
"""
from __future__ import annotations

from estimators.counts.vae_tally import CONV3, POINT3, Tally
from estimators.specs.vaes import HunyuanVideo15VAESpec

# HunyuanVideo15RMS_norm holds one scale per channel (no bias).
RMS_NORM_PARAMS_PER_CHANNEL = 1
# The mid block's attention: to_q, to_k, to_v and proj_out, 1x1x1 convs with bias.
ATTENTION_PROJECTIONS = 4
SPACE_FACTOR = 4  # 2 x 2 pixels packed into channels
SPACE_TIME_FACTOR = 8  # 2 x 2 x 2


def _residual(tally: Tally, c_in: int, c_out: int, positions: int) -> None:
    """HunyuanVideo15ResnetBlock: RMS norm, causal 3x3x3 conv, twice; 1x1x1 shortcut when widths differ."""
    tally.resnet_block(c_in, c_out, positions, RMS_NORM_PARAMS_PER_CHANNEL)


def _mid_block(tally: Tally, c: int, positions: int) -> None:
    """Residual, one-head attention over every position (RMS norm, q/k/v/out), residual."""
    _residual(tally, c, c, positions)
    tally.norm(c, RMS_NORM_PARAMS_PER_CHANNEL)
    for _ in range(ATTENTION_PROJECTIONS):
        tally.conv(c, c, POINT3, positions)
    tally.attention(1, positions, c)
    tally.transient(positions * positions)  # the dense causal frame mask
    _residual(tally, c, c, positions)


def _levels(spec: HunyuanVideo15VAESpec) -> tuple[int, int]:
    """(spatial, temporal) resampling counts: log2 of the compressions."""
    return spec.spatial_compression.bit_length() - 1, spec.temporal_compression.bit_length() - 1


def _encode_tile(spec: HunyuanVideo15VAESpec, tally: Tally, frames: int, height: int, width: int) -> None:
    """The encoder on one tile; encoder level i halves space while i < log2(spatial) and time from level
    log2(spatial / temporal) on (diffusers HunyuanVideo15Encoder3D)."""
    channels = spec.block_out_channels
    spatial, temporal = _levels(spec)
    t, h, w = frames, height, width
    tally.part = "conv_in"
    tally.conv(spec.image_channels, channels[0], CONV3, t * h * w)
    c = channels[0]
    for i, out in enumerate(channels):
        tally.part = f"level{i}"
        for _ in range(spec.layers_per_block):
            _residual(tally, c, out, t * h * w)
            c = out
        if i < spatial:
            in_time = i >= spatial - temporal
            factor = SPACE_TIME_FACTOR if in_time else SPACE_FACTOR
            down = channels[i + 1]
            tally.conv(c, down // factor, CONV3, t * h * w)
            t, h, w = (1 + (t - 1) // 2 if in_time else t), h // 2, w // 2
            c = down
    tally.part = "mid"
    _mid_block(tally, c, t * h * w)
    tally.part = "conv_out"
    tally.norm(c, RMS_NORM_PARAMS_PER_CHANNEL)
    tally.conv(c, 2 * spec.latent_channels, CONV3, t * h * w)


def _decode_tile(spec: HunyuanVideo15VAESpec, tally: Tally, latent_frames: int, latent_height: int, latent_width: int) -> None:
    """The decoder on one latent tile; decoder level i doubles space while i < log2(spatial) and time while
    i < log2(temporal) (diffusers HunyuanVideo15Decoder3D)."""
    channels = tuple(reversed(spec.block_out_channels))
    spatial, temporal = _levels(spec)
    t, h, w = latent_frames, latent_height, latent_width
    tally.part = "conv_in"
    tally.conv(spec.latent_channels, channels[0], CONV3, t * h * w)
    tally.part = "mid"
    _mid_block(tally, channels[0], t * h * w)
    c = channels[0]
    for i, out in enumerate(channels):
        tally.part = f"level{i}"
        for _ in range(spec.layers_per_block + 1):
            _residual(tally, c, out, t * h * w)
            c = out
        if i < spatial:
            in_time = i < temporal
            up = channels[i + 1]
            tally.conv(c, up * (SPACE_TIME_FACTOR if in_time else SPACE_FACTOR), CONV3, t * h * w)
            t, h, w = (2 * (t - 1) + 1 if in_time else t), 2 * h, 2 * w
            c = up
    tally.part = "conv_out"
    tally.norm(c, RMS_NORM_PARAMS_PER_CHANNEL)
    tally.conv(c, spec.image_channels, CONV3, t * h * w)


def _tile_sides(total: int, tile: int, stride: int) -> list[int]:
    """Sides of diffusers' spatial tiles along one axis: [i, i + tile) for i = 0, stride, ... below total."""
    return [min(tile, total - i) for i in range(0, total, stride)]


def _tiled(walk, tally: Tally, frames: int, height: int, width: int, tile: int, stride: int) -> None:
    """``walk`` on every tile of a frame larger than a tile (weights counted once), else on the whole frame."""
    if height <= tile and width <= tile:
        walk(tally, frames, height, width)
        return
    for h in _tile_sides(height, tile, stride):
        for w in _tile_sides(width, tile, stride):
            walk(tally, frames, h, w)
            tally.count_params = False


def hunyuan15_encoder(spec: HunyuanVideo15VAESpec, frames: int, height: int, width: int) -> Tally:
    """What ``encode`` runs on one clip of ``frames`` (4k + 1) x ``height`` x ``width`` pixels."""
    tally = Tally()
    walk = lambda tl, t, h, w: _encode_tile(spec, tl, t, h, w)  # noqa: E731
    if not spec.spatial_tiling:
        walk(tally, frames, height, width)
        return tally
    _tiled(walk, tally, frames, height, width, spec.tile_size, int(spec.tile_size * (1 - spec.tile_overlap)))
    return tally


def hunyuan15_decoder(spec: HunyuanVideo15VAESpec, latent_frames: int, latent_height: int, latent_width: int) -> Tally:
    """What ``decode`` runs on one clip's latents."""
    tally = Tally()
    walk = lambda tl, t, h, w: _decode_tile(spec, tl, t, h, w)  # noqa: E731
    if not spec.spatial_tiling:
        walk(tally, latent_frames, latent_height, latent_width)
        return tally
    tile = spec.tile_size // spec.spatial_compression
    _tiled(walk, tally, latent_frames, latent_height, latent_width, tile, int(tile * (1 - spec.tile_overlap)))
    return tally
