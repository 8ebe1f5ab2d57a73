"""One interface over every DiT family (``asymm_dit`` Mochi, ``video_dit`` block vocabulary): counts and
the per-layer summary the training problem is built from. No other module branches on the DiT family.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from estimators.counts import blocks
from estimators.counts.flops import dit_forward_flops as asymm_forward_flops
from estimators.counts.params import dit_block_params as asymm_block_params
from estimators.counts.params import dit_params as asymm_params
from estimators.counts.saved import dit_streams, saved_elements_per_token
from estimators.specs.dit_blocks import VideoDiTSpec

RECOMPUTE_MODES = ("none", "selective", "full")
# Megatron's reductions a layer and pass for a block of attention + MLP (Shoeybi et al. 2019).
TP_COLLECTIVES_PER_BLOCK = 2


def dit_params(spec) -> dict[str, int]:
    """Parameters of the DiT by part (the parts sum to the total)."""
    return blocks.video_dit_params(spec) if isinstance(spec, VideoDiTSpec) else asymm_params(spec)


def dit_forward_flops(spec, visual: int, text: int) -> dict[str, int]:
    """Forward FLOPs of one sample by kind of work; the same keys for every family."""
    if isinstance(spec, VideoDiTSpec):
        return blocks.video_dit_forward_flops(spec, visual, text)
    flops = asymm_forward_flops(spec, visual, text)
    return {**flops, "cross_attention": 0}


def layers_forward_flops(flops: dict[str, int]) -> int:
    """FLOPs of the repeated blocks (what full recompute runs again): all but embedders and final layer."""
    return sum(flops.values()) - flops["embeddings"] - flops["final_layer"]


def encoder_text_tokens(spec, text_tokens: int) -> int:
    """Text tokens the caption has when it reaches the text encoder(s) and the DiT's caption projection.

    Mochi projects the padded caption (max_text_tokens) and feeds only the valid ``text_tokens`` to the
    blocks; the video_dit models run on ``text_tokens`` everywhere (the padded length a sample carries).
    """
    return text_tokens if isinstance(spec, VideoDiTSpec) else spec.max_text_tokens


@dataclass(frozen=True)
class StreamSummary:
    """A token stream through the blocks, averaged over the blocks."""

    tokens: int
    width: int
    linear_flops_per_layer: float
    saved_elements: dict[str, tuple[float, float]]  # mode -> (activation elements, fp32 elements) per token and layer
    tp_collectives_per_layer: float


@dataclass(frozen=True)
class LayerSummary:
    """What the training problem needs of a DiT on one clip, per layer (averaged over block kinds)."""

    num_layers: int
    heads: int
    head_dim: int
    visual: StreamSummary
    text: StreamSummary
    attention_flops_per_layer: float
    attention_seq: int
    cross_attention_flops_per_layer: float
    cross_attention_kv_tokens: int
    other_flops: float
    layer_params: int  # the largest block
    block_params_total: int
    trained_params: int


def _asymm_saved(widths, layers: int, last=None) -> dict[str, tuple[float, float]]:
    """Mochi's saved elements per token by mode; with ``last``, averaged with a different last block."""
    out = {}
    for mode in RECOMPUTE_MODES:
        act, stats = saved_elements_per_token(widths, mode)
        if last is not None:
            last_act, last_stats = saved_elements_per_token(last, mode)
            act, stats = ((layers - 1) * act + last_act) / layers, ((layers - 1) * stats + last_stats) / layers
        out[mode] = (act, stats)
    return out


def _asymm_summary(spec, visual: int, text: int) -> LayerSummary:
    forward = asymm_forward_flops(spec, visual, text)
    layers = spec.num_layers
    visual_w, text_w = dit_streams(spec)
    last_text = None if spec.last_block_updates_text or spec.text_stream == "shared" else replace(text_w, updates=False)
    params = asymm_params(spec)
    return LayerSummary(
        num_layers=layers, heads=spec.num_heads, head_dim=spec.head_dim,
        visual=StreamSummary(visual, spec.visual_width, forward["linear_visual"] / layers, _asymm_saved(visual_w, layers), TP_COLLECTIVES_PER_BLOCK),
        text=StreamSummary(text, spec.text_width, forward["linear_text"] / layers, _asymm_saved(text_w, layers, last_text), TP_COLLECTIVES_PER_BLOCK),
        attention_flops_per_layer=forward["attention"] / layers,
        attention_seq=visual + text,
        cross_attention_flops_per_layer=0.0,
        cross_attention_kv_tokens=0,
        other_flops=forward["embeddings"] + forward["final_layer"] + forward["modulation"],
        layer_params=sum(asymm_block_params(spec, last=False).values()),
        block_params_total=params["blocks"],
        trained_params=sum(params.values()),
    )


def _video_summary(spec: VideoDiTSpec, visual: int, text: int) -> LayerSummary:
    layers = spec.num_layers
    forward = blocks.video_dit_forward_flops(spec, visual, text)
    saved = {"visual": {}, "text": {}}
    for mode in RECOMPUTE_MODES:
        sums = {"visual": [0, 0], "text": [0, 0]}
        for group in spec.blocks:
            for name, per_token in zip(("visual", "text"), blocks.block_saved(spec, group, mode), strict=True):
                sums[name][0] += group.count * per_token.activation
                sums[name][1] += group.count * per_token.stats
        for name in sums:
            saved[name][mode] = (sums[name][0] / layers, sums[name][1] / layers)
    tp = [sum(group.count * blocks.tp_collectives_per_block(group)[i] for group in spec.blocks) / layers for i in (0, 1)]
    cross = any(group.kind == "cross" for group in spec.blocks)
    joint_layers = sum(group.count for group in spec.blocks if group.kind != "cross")
    params = blocks.video_dit_params(spec)
    block_params = [blocks.block_params(spec, group) for group in spec.blocks]
    return LayerSummary(
        num_layers=layers, heads=spec.num_heads, head_dim=spec.head_dim,
        visual=StreamSummary(visual, spec.width, forward["linear_visual"] / layers, saved["visual"], tp[0]),
        text=StreamSummary(text, spec.width, forward["linear_text"] / layers, saved["text"], tp[1]),
        attention_flops_per_layer=forward["attention"] / layers,
        # the sequence of the self/joint attention: visual tokens alone when every block is a cross block
        attention_seq=visual + (text if joint_layers else 0),
        cross_attention_flops_per_layer=forward["cross_attention"] / layers,
        cross_attention_kv_tokens=text if cross else 0,
        other_flops=forward["embeddings"] + forward["final_layer"] + forward["modulation"],
        layer_params=max(block_params),
        block_params_total=sum(group.count * p for group, p in zip(spec.blocks, block_params, strict=True)),
        trained_params=sum(params.values()),
    )


def layer_summary(spec, visual: int, text: int) -> LayerSummary:
    """The DiT on one clip of ``visual`` + ``text`` tokens, reduced to per-layer quantities."""
    return _video_summary(spec, visual, text) if isinstance(spec, VideoDiTSpec) else _asymm_summary(spec, visual, text)
