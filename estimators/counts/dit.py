"""The DiT's counts and the per-layer summary the training problem is built from, for every model in the
block vocabulary (specs/dit_blocks.py; a legacy asymm_dit file arrives already translated into it).
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.counts import blocks
from estimators.counts.saved_autocast import saved_with_autocast
from estimators.specs.dit_blocks import VideoDiTSpec

RECOMPUTE_MODES = ("none", "selective", "full")


def dit_params(spec: VideoDiTSpec) -> dict[str, int]:
    """Parameters of the DiT by part (the parts sum to the total)."""
    return blocks.video_dit_params(spec)


def dit_forward_flops(spec: VideoDiTSpec, visual: int, text: int) -> dict[str, int]:
    """Forward FLOPs of one sample of ``visual`` + ``text`` tokens by kind of work."""
    return blocks.video_dit_forward_flops(spec, visual, text)


def layers_forward_flops(flops: dict[str, int]) -> int:
    """FLOPs of the repeated blocks (what full recompute runs again): all but embedders and final layer."""
    return sum(flops.values()) - flops["embeddings"] - flops["final_layer"]


def encoder_text_tokens(spec: VideoDiTSpec, text_tokens: int) -> int:
    """Text tokens the caption has when it reaches the text encoder(s) and the DiT's caption projection:
    the padded caption for a model that embeds it padded (Mochi feeds only the valid ``text_tokens`` to
    the blocks), else ``text_tokens`` (the padded length a sample carries)."""
    return blocks.caption_rows(spec, text_tokens)


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


def layer_summary(spec: VideoDiTSpec, visual: int, caption: int, implementation: str = "pytorch-reference") -> LayerSummary:
    """The DiT on one clip of ``visual`` tokens and ``caption`` text tokens, reduced to per-layer quantities (the
    text stream holds the caption's tokens and the context embedders' groups); saved elements as
    ``implementation`` keeps them (counts/saved.py)."""
    layers = spec.num_layers
    forward = blocks.video_dit_forward_flops(spec, visual, caption)
    text = blocks.block_text_tokens(spec, caption)
    saved = {"visual": {}, "text": {}}
    for mode in RECOMPUTE_MODES:
        sums = {"visual": [0, 0], "text": [0, 0]}
        for group in spec.blocks:
            for name, per_token in zip(("visual", "text"), saved_with_autocast(spec, group, mode, implementation), strict=True):
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
        text=StreamSummary(text, spec.text_stream_width, forward["linear_text"] / layers, saved["text"], tp[1]),
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

