"""Step-Video-T2V Video-VAE, version 2 (stepvideo/vae/vae.py of github.com/stepfun-ai/Step-Video-T2V, commit
675e08c): parameters and the FLOPs encode/decode execute, walked from the official code (no independent
implementation is installed, so these counts are not checked to the unit).

``encode`` cuts a clip into chunks of 17 frames and runs the encoder on each alone; ``decode`` does the same
with chunks of 3 latent frames. Causal 3x3x3 convs pad time 2 frames in front and space 1 each side (the
residual blocks' convs get their two time frames from a zero pad after the GroupNorm), so they run at their
output's T x H x W positions. Encoder down-sampling: a stride-2 causal 3x3x3 conv at the temporal levels,
else a per-frame 3x3 conv of stride 2; after the mid block a causal conv to patch_channels / 8 and 2x2x2
space-time-to-depth (time padded by one frame in front). Decoder: a causal conv from z to patch channels,
a causal conv to 8 x the mid width and depth-to-space-time (its first frame dropped); up-sampling is nearest
x2 then a residual pair of causal convs at the temporal levels (Res3DBlockUpsample), else a per-frame 3x3
conv. The mid blocks' attention is one causal head over all positions of the chunk. The averaged and
duplicated shortcuts, norms and activations cost no counted FLOPs.
"""
from __future__ import annotations

from estimators.counts.vae_tally import CONV3, POINT3, Tally
from estimators.specs.vaes import StepVideoVAESpec

SPATIAL3 = (3, 3)
ATTENTION_PROJECTIONS = 4  # q, k, v and proj_out: 1x1x1 convs with bias
SPACE_TIME_FACTOR = 8  # 2 x 2 x 2


def _residual(tally: Tally, c_in: int, c_out: int, positions: int) -> None:
    """Resnet3DBlock: GroupNorm, causal 3x3x3 conv, twice; a 1x1x1 shortcut conv when widths differ."""
    tally.resnet_block(c_in, c_out, positions)


def _mid_block(tally: Tally, c: int, positions: int) -> None:
    """Residual, one-head causal attention over every position (GroupNorm, q/k/v/out), residual."""
    _residual(tally, c, c, positions)
    tally.norm(c)
    for _ in range(ATTENTION_PROJECTIONS):
        tally.conv(c, c, POINT3, positions)
    tally.attention(1, positions, c)
    _residual(tally, c, c, positions)


def _encode_chunk(spec: StepVideoVAESpec, tally: Tally, frames: int, height: int, width: int) -> None:
    """VideoEncoder (version 2) on one chunk of frames."""
    t, h, w = frames, height, width
    tally.part = "conv_in"
    c = spec.encoder_base
    tally.conv(spec.image_channels, c, CONV3, t * h * w)
    last = len(spec.encoder_mult) - 1
    for i, mult in enumerate(spec.encoder_mult):
        tally.part = f"level{i}"
        for _ in range(spec.num_res_blocks):
            _residual(tally, c, spec.encoder_base * mult, t * h * w)
            c = spec.encoder_base * mult
        if i == last:
            continue
        if i in spec.encoder_temporal_levels:
            t, h, w = (t - 1) // 2 + 1, (h - 1) // 2 + 1, (w - 1) // 2 + 1
            tally.conv(c, c, CONV3, t * h * w)
        else:
            h, w = (h - 2) // 2 + 1, (w - 2) // 2 + 1  # padded (0, 1, 0, 1), 3x3 stride 2
            tally.conv(c, c, SPATIAL3, t * h * w)
    tally.part = "mid"
    _mid_block(tally, c, t * h * w)
    tally.part = "conv_out"
    tally.norm(c)
    tally.conv(c, spec.patch_channels // SPACE_TIME_FACTOR, CONV3, t * h * w)
    t, h, w = (t + 1) // 2, h // 2, w // 2
    tally.conv(spec.patch_channels, 2 * spec.latent_channels, CONV3, t * h * w)


def _decode_chunk(spec: StepVideoVAESpec, tally: Tally, latent_frames: int, latent_height: int, latent_width: int) -> None:
    """VideoDecoder (version 2) on one chunk of latent frames."""
    t, h, w = latent_frames, latent_height, latent_width
    c = spec.decoder_base * spec.decoder_mult[-1]
    tally.part = "conv_in"
    tally.conv(spec.latent_channels, spec.patch_channels, CONV3, t * h * w)
    tally.conv(spec.patch_channels, c * SPACE_TIME_FACTOR, CONV3, t * h * w)
    t, h, w = 2 * t - 1, 2 * h, 2 * w
    tally.part = "mid"
    _mid_block(tally, c, t * h * w)
    for i in reversed(range(len(spec.decoder_mult))):
        tally.part = f"level{i}"
        out = spec.decoder_base * spec.decoder_mult[i]
        for _ in range(spec.num_res_blocks + 1):
            _residual(tally, c, out, t * h * w)
            c = out
        if i == 0:
            continue
        if i in spec.decoder_temporal_levels:
            t, h, w = 2 * t, 2 * h, 2 * w
            for _ in range(2):  # Res3DBlockUpsample: conv, GroupNorm, twice
                tally.conv(c, c, CONV3, t * h * w)
                tally.norm(c)
        else:
            h, w = 2 * h, 2 * w
            tally.conv(c, c, SPATIAL3, t * h * w)
    tally.part = "conv_out"
    tally.norm(c)
    tally.conv(c, spec.image_channels, CONV3, t * h * w)


def step_encoder(spec: StepVideoVAESpec, frames: int, height: int, width: int) -> Tally:
    """What ``encode`` runs on a clip of whole chunks (weights counted once)."""
    tally = Tally()
    for _ in range(max(1, frames // spec.chunk_frames)):
        _encode_chunk(spec, tally, min(frames, spec.chunk_frames), height, width)
        tally.count_params = False
    return tally


def step_decoder(spec: StepVideoVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> Tally:
    """What ``decode`` runs on a clip's latents, chunk by chunk (weights counted once)."""
    tally = Tally()
    for _ in range(max(1, latent_frames // spec.chunk_latent_frames)):
        _decode_chunk(spec, tally, min(latent_frames, spec.chunk_latent_frames), latent_height, latent_width)
        tally.count_params = False
    return tally
