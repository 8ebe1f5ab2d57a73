"""LTX-Video VAE (diffusers ``AutoencoderKLLTXVideo``, 0.9.0 layout): parameters and forward FLOPs.

diffusers runs the whole clip at once by default (framewise encoding/decoding and tiling are off), so
the counts are of one encoder / decoder pass. The encoder pads time causally (first frame repeated),
the decoder symmetrically (first and last repeated), so stride-1 convs keep the frame count. Norms are
RMS norms without weights, except the LayerNorm (scale and shift) before a width-changing shortcut.
No quant_conv / post_quant_conv.
"""
from __future__ import annotations

from estimators.counts.vae_tally import CONV3, POINT3, Tally
from estimators.specs.vaes import LTXVideoVAESpec

# Stride-2 resampling in t, h and w: 8 positions per coarse position.
RESAMPLE_VOLUME = 8
# The encoder's conv_out emits the mean channels plus one shared log-variance channel.
SHARED_LOGVAR_CHANNELS = 1


def _residual(tally: Tally, c_in: int, c_out: int, positions: int) -> None:
    """LTXVideoResnetBlock3d: two 3x3x3 convs; LayerNorm + 1x1x1 conv shortcut when widths differ."""
    tally.conv(c_in, c_out, CONV3, positions)
    tally.conv(c_out, c_out, CONV3, positions)
    if c_in != c_out:
        tally.norm(c_in)
        tally.conv(c_in, c_out, POINT3, positions)


def ltx_encoder(spec: LTXVideoVAESpec, frames: int, height: int, width: int) -> Tally:
    """Encoder on one clip of 8k+1 frames (patchified to H/p x W/p first)."""
    tally = Tally()
    channels = spec.block_out_channels
    t, h, w = frames, height // spec.patch_size, width // spec.patch_size
    tally.part = "conv_in"
    tally.conv(spec.image_channels * spec.patch_size**2, channels[0], CONV3, t * h * w)
    c = channels[0]
    for i, scale in enumerate(spec.spatio_temporal_scaling):
        tally.part = f"level{i}"
        for _ in range(spec.layers_per_block[i]):
            _residual(tally, c, c, t * h * w)
        if scale:
            # causal pad of 2 frames, spatial pad 1, stride 2 in t, h, w
            t, h, w = (t - 1) // 2 + 1, (h - 1) // 2 + 1, (w - 1) // 2 + 1
            tally.conv(c, c, CONV3, t * h * w)
        out = channels[i + 1] if i + 1 < len(channels) else channels[i]
        if out != c:
            _residual(tally, c, out, t * h * w)
            c = out
    tally.part = "mid"
    for _ in range(spec.layers_per_block[-1]):
        _residual(tally, c, c, t * h * w)
    tally.part = "conv_out"
    tally.conv(c, spec.latent_channels + SHARED_LOGVAR_CHANNELS, CONV3, t * h * w)
    return tally


def ltx_decoder(spec: LTXVideoVAESpec, latent_frames: int, latent_height: int, latent_width: int) -> Tally:
    """Decoder on one clip's latents: T latent frames decode to 8(T-1)+1 frames."""
    tally = Tally()
    channels = tuple(reversed(spec.decoder_block_out_channels))
    scaling = tuple(reversed(spec.decoder_spatio_temporal_scaling))
    layers = tuple(reversed(spec.decoder_layers_per_block))
    t, h, w = latent_frames, latent_height, latent_width
    tally.part = "conv_in"
    tally.conv(spec.latent_channels, channels[0], CONV3, t * h * w)
    c = channels[0]
    tally.part = "mid"
    for _ in range(layers[0]):
        _residual(tally, c, c, t * h * w)
    for i, out in enumerate(channels):
        tally.part = f"level{i}"
        if out != c:
            _residual(tally, c, out, t * h * w)
            c = out
        if scaling[i]:
            # 3x3x3 conv to 8c channels, depth-to-space-time, the first new frame dropped
            tally.conv(c, RESAMPLE_VOLUME * c, CONV3, t * h * w)
            t, h, w = 2 * t - 1, 2 * h, 2 * w
        for _ in range(layers[i + 1]):
            _residual(tally, c, c, t * h * w)
    tally.part = "conv_out"
    tally.conv(c, spec.image_channels * spec.patch_size**2, CONV3, t * h * w)
    return tally
