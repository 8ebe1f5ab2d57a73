"""Decoding a clip's latents to pixels: FLOPs of the decoder walked over the tiles the official code uses,
its time on a device and its working set.

Time = convolution FLOPs at the device's 3D-convolution efficiency of the dense peak of the VAE's
precision (fp32 runs TF32 tensor cores on a GPU) + the element-wise traffic of every layer's output
(normalised and activated before the next convolution reads it) at the achieved HBM bandwidth + a fixed
cost a layer where the device has one (a CPU). The working set is the largest transient tensor of the
frames decoded at once, LIVE_TENSORS times (input, intermediate, output), plus the decoded video.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from estimators.counts.geometry import ClipGeometry
from estimators.counts.problem import FROZEN_ENCODER_LIVE_TENSORS
from estimators.counts.vaes import vae_decoder_activity, vae_decoder_flops
from estimators.serving.machine import PRECISION_BYTES, Machine
from estimators.specs.serving import VaeTiling

LIVE_TENSORS = FROZEN_ENCODER_LIVE_TENSORS  # a no-grad conv stack holds its input, one intermediate and its output
# Each layer's output is read and written by a normalisation and by an activation before the next conv
# reads it (GroupNorm/RMSNorm then SiLU in every residual block of these VAEs): four accesses an element.
ELEMENTWISE_ACCESSES_PER_WRITTEN_ELEMENT = 4
DECODED_VIDEO_BYTES_PER_VALUE = 4  # the decoded frames leave the VAE as fp32 RGB before conversion to uint8
RGB = 3


def tile_sides(length: int, tile: int, stride: int) -> list[int]:
    """Sides of the tiles along one latent axis, as diffusers' tiled_decode cuts it: a tile at every stride
    from 0, each at most ``tile`` long; one whole tile when the axis fits in one."""
    if length <= tile:
        return [length]
    return [min(tile, length - start) for start in range(0, length, stride)]


def latent_frames_at_once(vae, latent_frames: int) -> int:
    """Latent frames a decoder holds at once: Wan decodes one latent frame at a time behind a causal cache
    (two counted, the cache and the new frame), CogVideoX two at a time (its frame batch), HunyuanVideo a
    temporal tile (tile_frames / 4 latent frames and one of overlap); Mochi and LTX-Video the whole clip."""
    family = getattr(vae, "family", "")
    if family == "wan_vae":
        return min(2, latent_frames)
    if family == "cogvideox_vae":
        return min(vae.latent_frames_batch, latent_frames)
    if family == "hunyuanvideo_vae" and vae.temporal_tiling:
        return min(vae.tile_frames // vae.temporal_compression + 1, latent_frames)
    return latent_frames


@dataclass(frozen=True)
class DecodeCost:
    """One clip's decode: FLOPs, elements written, layers run, the largest transient at once, the output."""

    flops: float
    written_elements: float
    layers: int
    working_elements: float
    video_elements: float
    tiles: int


def decode_cost(vae, geo: ClipGeometry, tiling: Optional[VaeTiling]) -> DecodeCost:
    """The decoder on every tile of one clip (the whole latent when untiled)."""
    lt = geo.latent_frames
    rows = tile_sides(geo.latent_height, tiling.tile_height, tiling.stride_height) if tiling else [geo.latent_height]
    cols = tile_sides(geo.latent_width, tiling.tile_width, tiling.stride_width) if tiling else [geo.latent_width]
    flops = written = 0.0
    layers = 0
    for h in set(rows):
        for w in set(cols):
            count = rows.count(h) * cols.count(w)
            flops += count * sum(vae_decoder_flops(vae, lt, h, w).values())
            activity = vae_decoder_activity(vae, lt, h, w)
            written += count * activity.written_elements
            layers += count * activity.layers
    at_once = vae_decoder_activity(vae, latent_frames_at_once(vae, lt), max(rows), max(cols))
    return DecodeCost(flops=flops, written_elements=written, layers=layers, working_elements=at_once.largest_elements,
                      video_elements=geo.frames * geo.height * geo.width * RGB, tiles=len(rows) * len(cols))


def decode_seconds(cost: DecodeCost, machine: Machine, precision: str) -> float:
    """Seconds to decode one clip on one device."""
    conv = cost.flops / (machine.dense_peak_flops(precision) * machine.device.conv_efficiency)
    traffic = cost.written_elements * ELEMENTWISE_ACCESSES_PER_WRITTEN_ELEMENT * PRECISION_BYTES[precision]
    return conv + traffic / machine.hbm_bytes_per_s + cost.layers * machine.device.conv_layer_overhead_s


def decode_working_bytes(cost: DecodeCost, precision: str) -> float:
    """Peak bytes of one clip's decode beyond the VAE's weights: live activations and the decoded video."""
    return LIVE_TENSORS * cost.working_elements * PRECISION_BYTES[precision] + cost.video_elements * DECODED_VIDEO_BYTES_PER_VALUE
