"""Parameters, forward FLOPs, saved activations and tensor-parallel collectives of the ``video_dit``
block vocabulary (specs/dit_blocks.py).

Shapes follow diffusers 0.42 (WanTransformer3DModel, HunyuanVideoTransformer3DModel,
CogVideoXTransformer3DModel, LTXVideoTransformer3DModel, MochiTransformer3DModel), checked to the unit
on the meta device in tests/test_video_dit_exact.py and tests/test_exact_counts.py, and Mochi's
genmoai/mochi layout as reference_model/dit.py builds it (tests/test_asymm_translation.py). FLOPs follow
flops.py's FlopCounterMode conventions: matmuls and attention products at 2 FLOPs a multiply-add, full
S^2 (bidirectional), element-wise ops, norms and a fixed rotary embedding not counted. Modulation runs
once a sample (one row), not per token.

Widths: d of the visual stream, d_y of the text stream (d unless the spec's text_width says otherwise),
a = heads x head_dim of the attention (d unless hidden_width says otherwise); they differ only in
joint blocks (specs/dit_blocks.py checks it), so cross and single blocks use d throughout.
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.counts.flops import attention_flops, matmul_flops
from estimators.counts.params import linear_params
from estimators.specs.dit_blocks import (
    AttentionOptions,
    ContextEmbedder,
    CrossBlock,
    JointBlock,
    MLPOptions,
    Modulation,
    NormKind,
    QKNorm,
    SingleBlock,
    VideoDiTSpec,
)

# Parameters a norm of width w holds, per w: LayerNorm's scale and bias, RMSNorm's scale.
NORM_PARAMS_PER_WIDTH = {"none": 0, "layer": 0, "layer_affine": 2, "rms": 0, "rms_affine": 1}
# fp32 statistics a norm keeps per normalised row: LayerNorm mean and rstd, RMSNorm rstd.
NORM_STATS_PER_ROW = {"none": 0, "layer": 2, "layer_affine": 2, "rms": 1, "rms_affine": 1}
QK = 2  # a query/key norm is applied to both q and k
QKV = 3
KV = 2
GATED_HALVES = 2  # a gated MLP's first layer emits value and gate halves
# Tensors a q/k norm (and the rotary embedding) touch, by projections of the token: self-attention
# q, k, v (q and k); a cross-attention's query side q (q); its key/value side k, v (k).
QK_ROWS_BY_PROJECTED = {3: 2, 1: 1, 2: 1}
# Axes of a learned mixed 3D rotary embedding: positions (t, h, w) (genmoai/mochi, Mochi's pos_frequencies).
ROPE_AXES = 3
# Attention pooling of the caption: keys and values come out of one projection (genmoai/mochi AttentionPool to_kv).
POOL_KV = 2


@dataclass(frozen=True)
class JointStream:
    """One stream of a joint block: its width, MLP, rotary embedding, whether the block updates it and
    whether it has weights of its own (a text stream on the visual weights has none)."""

    width: int
    mlp: MLPOptions
    rope: str
    updated: bool
    own_weights: bool


def joint_streams(spec: VideoDiTSpec, block: JointBlock) -> tuple[JointStream, JointStream]:
    """(visual, text) streams of a joint block; the rotary embedding rotates the visual tokens only."""
    visual = JointStream(spec.width, block.mlp, spec.rope, True, True)
    text = JointStream(spec.text_stream_width, block.text_stream_mlp, "none", block.updates_text, block.text_weights == "own")
    return visual, text


def norm_params(kind: NormKind, width: int) -> int:
    """Learned parameters of one norm of ``width``."""
    return NORM_PARAMS_PER_WIDTH[kind] * width


def qk_norm_width(qk: QKNorm, head_dim: int, attn_width: int) -> int:
    """Width one q (or k) norm normalises over: all heads at once or one head."""
    return attn_width if qk.across_heads else head_dim


def qk_norm_params(qk: QKNorm, head_dim: int, attn_width: int) -> int:
    """Learned q-norm and k-norm parameters (each: scale, and bias when set)."""
    if qk.kind == "none":
        return 0
    return QK * qk_norm_width(qk, head_dim, attn_width) * (int(qk.affine) + int(qk.bias))


def attention_params(opts: AttentionOptions, d_q: int, d_kv: int, attn: int, d_out: int, head_dim: int, out_proj: bool = True) -> int:
    """q from d_q, k and v from d_kv (the text width for cross-attention), out-projection to d_out."""
    qkv = linear_params(d_q, attn, opts.qkv_bias) + KV * linear_params(d_kv, attn, opts.qkv_bias)
    out = linear_params(attn, d_out, opts.out_bias) if out_proj else 0
    return qkv + out + qk_norm_params(opts.qk_norm, head_dim, attn)


def mlp_first_width(mlp: MLPOptions) -> int:
    """Outputs of the MLP's first layer: 2f when gated, f otherwise."""
    return (GATED_HALVES if mlp.gated else 1) * mlp.hidden


def mlp_params(mlp: MLPOptions, width: int) -> int:
    """width -> first layer -> f -> width."""
    return linear_params(width, mlp_first_width(mlp), mlp.bias) + linear_params(mlp.hidden, width, mlp.bias)


def mlp_forward_flops(mlp: MLPOptions, rows: int, width: int) -> int:
    """Both MLP matmuls for ``rows`` tokens."""
    return matmul_flops(rows, width, mlp_first_width(mlp)) + matmul_flops(rows, mlp.hidden, width)


def modulation_params(mod: Modulation, cond: int, width: int, text_width: int | None = None) -> int:
    """A block's adaLN parameters: its projection (with bias), its table, or its low-rank pair (no bias).
    Text vectors are ``text_width`` wide (default ``width``); the two per-block projections of a joint
    block hold what one projection to all vectors would."""
    vectors = mod.outputs * width + mod.text_outputs * (text_width or width)
    if mod.kind == "per_block":
        return linear_params(cond, vectors, bias=True)
    if mod.kind == "shared_table":
        return vectors
    return mod.groups * cond * mod.rank + mod.rank * vectors


def modulation_flops(mod: Modulation, cond: int, width: int, text_width: int | None = None) -> int:
    """One sample's adaLN matmuls in a block (a shared table is only added: no FLOPs)."""
    vectors = mod.outputs * width + mod.text_outputs * (text_width or width)
    if mod.kind == "per_block":
        return matmul_flops(1, cond, vectors)
    if mod.kind == "shared_table":
        return 0
    return mod.groups * matmul_flops(1, cond, mod.rank) + matmul_flops(1, mod.rank, vectors)


def joint_stream_params(spec: VideoDiTSpec, block: JointBlock, stream: JointStream) -> int:
    """One stream's weights in a joint block: norms, q/k/v (from the stream's width to the attention width),
    and, when the block updates the stream, its out-projection, post-norms and MLP."""
    if not stream.own_weights:
        return 0
    d, a = stream.width, spec.attn_width
    qkv = attention_params(block.attention, d, d, a, d, spec.head_dim, out_proj=stream.updated)
    if not stream.updated:
        return norm_params(block.norm, d) + qkv
    norms = 2 * norm_params(block.norm, d) + 2 * norm_params(block.post_norm, d)
    return norms + qkv + mlp_params(stream.mlp, d)


def block_params(spec: VideoDiTSpec, block) -> int:
    """Parameters of one block of a group."""
    d, hd, c = spec.width, spec.head_dim, spec.conditioning.width
    mod = modulation_params(block.modulation, c, d, spec.text_stream_width)
    if isinstance(block, CrossBlock):
        return (
            2 * norm_params(block.norm, d) + norm_params(block.cross_norm, d)
            + attention_params(block.attention, d, d, d, d, hd)
            + attention_params(block.cross_attention, d, spec.text_stream_width, d, d, hd)
            + mlp_params(block.mlp, d) + mod
        )
    if isinstance(block, JointBlock):
        return sum(joint_stream_params(spec, block, stream) for stream in joint_streams(spec, block)) + mod
    if block.parallel:
        # q, k, v and the MLP's first layer from one norm; one out-projection of [attention, MLP hidden]
        return (
            norm_params(block.norm, d) + attention_params(block.attention, d, d, d, d, hd, out_proj=False)
            + linear_params(d, mlp_first_width(block.mlp), block.mlp.bias)
            + linear_params(d + block.mlp.hidden, d, block.attention.out_bias) + mod
        )
    return 2 * norm_params(block.norm, d) + attention_params(block.attention, d, d, d, d, hd) + mlp_params(block.mlp, d) + mod


def joint_stream_flops(spec: VideoDiTSpec, stream: JointStream, rows: int) -> int:
    """A joint block's matmuls on one stream's ``rows``: q/k/v, and out-projection and MLP when updated."""
    d, a = stream.width, spec.attn_width
    flops = matmul_flops(rows, d, QKV * a)
    if stream.updated:
        flops += matmul_flops(rows, a, d) + mlp_forward_flops(stream.mlp, rows, d)
    return flops


def block_flops(spec: VideoDiTSpec, block, visual: int, text: int) -> dict[str, int]:
    """Forward FLOPs of one block for one sample of ``visual`` + ``text`` tokens, by kind of work."""
    d, c = spec.width, spec.conditioning.width
    out = {"attention": 0, "cross_attention": 0, "linear_visual": 0, "linear_text": 0,
           "modulation": modulation_flops(block.modulation, c, d, spec.text_stream_width)}
    if isinstance(block, CrossBlock):
        out["attention"] = attention_flops(visual, visual, d)
        out["cross_attention"] = attention_flops(visual, text, d)
        # self q, k, v, out; cross q and out; MLP
        out["linear_visual"] = (matmul_flops(visual, d, QKV * d) + 3 * matmul_flops(visual, d, d)
                                + mlp_forward_flops(block.mlp, visual, d))
        out["linear_text"] = matmul_flops(text, spec.text_stream_width, KV * d)  # the cross-attention's keys and values
        return out
    out["attention"] = attention_flops(visual + text, visual + text, spec.attn_width)
    if isinstance(block, JointBlock):
        visual_stream, text_stream = joint_streams(spec, block)
        out["linear_visual"] = joint_stream_flops(spec, visual_stream, visual)
        out["linear_text"] = joint_stream_flops(spec, text_stream, text)
        return out
    for key, rows in (("linear_visual", visual), ("linear_text", text)):
        if block.parallel:
            out[key] = matmul_flops(rows, d, QKV * d + mlp_first_width(block.mlp)) + matmul_flops(rows, d + block.mlp.hidden, d)
        else:
            out[key] = matmul_flops(rows, d, QKV * d) + matmul_flops(rows, d, d) + mlp_forward_flops(block.mlp, rows, d)
    return out


def _two_layer(d_in: int, d_hidden: int, d_out: int) -> int:
    """A 2-layer MLP with biases (TimestepEmbedding, PixArtAlphaTextProjection)."""
    return linear_params(d_in, d_hidden, True) + linear_params(d_hidden, d_out, True)


def _two_layer_flops(rows: int, d_in: int, d_hidden: int, d_out: int) -> int:
    return matmul_flops(rows, d_in, d_hidden) + matmul_flops(rows, d_hidden, d_out)


def refiner_block_params(spec: VideoDiTSpec) -> int:
    """One token-refiner block: two affine LayerNorms, biased q/k/v/out, SiLU MLP, gate projection d -> 2d."""
    d, refiner = spec.width, spec.token_refiner
    mlp = MLPOptions(activation="silu", hidden=refiner.mlp_hidden)
    gates = linear_params(d, 2 * d, bias=True)
    return 2 * norm_params("layer_affine", d) + attention_params(AttentionOptions(), d, d, d, d, spec.head_dim) + mlp_params(mlp, d) + gates


def caption_pool_params(spec: VideoDiTSpec) -> int:
    """Attention pooling of the caption into c: to_kv f -> 2f, to_q f -> f, to_out f -> c, all with bias
    (f = text features; genmoai/mochi AttentionPool, diffusers MochiAttentionPool)."""
    if not spec.conditioning.caption_pool_heads:
        return 0
    f = spec.text_feature_dim
    return linear_params(f, POOL_KV * f, True) + linear_params(f, f, True) + linear_params(f, spec.conditioning.width, True)


def learned_rope_params(spec: VideoDiTSpec) -> int:
    """Learned rotary frequencies (3, heads, head_dim/2); none for a fixed or no rotary embedding."""
    return ROPE_AXES * spec.num_heads * (spec.head_dim // 2) if spec.rope == "learned_3d" else 0


def caption_projection_params(spec: VideoDiTSpec) -> int:
    """Text features -> the text width: one linear, a 2-layer MLP, or nothing (keys and values from the features)."""
    dy = spec.text_stream_width
    if spec.caption_projection == "none":
        return 0
    mlp = linear_params(dy, dy, True) if spec.caption_projection == "mlp" else 0
    return linear_params(spec.text_feature_dim, dy, True) + mlp


def context_layer_widths(spec: VideoDiTSpec, group: ContextEmbedder) -> list[int]:
    """In and out widths of a context projection's linears in order: features, hidden..., text width."""
    return [group.feature_dim, *group.hidden, spec.text_stream_width]


def context_embedder_params(spec: VideoDiTSpec, group: ContextEmbedder) -> int:
    """A context projection: its norms and its chain of linears."""
    widths = context_layer_widths(spec, group)
    linears = sum(linear_params(a, b, group.bias) for a, b in zip(widths, widths[1:]))
    return norm_params(group.norm_in, group.feature_dim) + linears + norm_params(group.norm_out, widths[-1])


def context_embedder_flops(spec: VideoDiTSpec, group: ContextEmbedder) -> int:
    """A context projection run on its group's tokens."""
    widths = context_layer_widths(spec, group)
    return sum(matmul_flops(group.tokens, a, b) for a, b in zip(widths, widths[1:]))


def timestep_embed_params(cond) -> int:
    """Timestep MLP freq -> c -> outputs x c (biases unless Cosmos), and the norm of its sinusoidal input."""
    c = cond.width
    mlp = linear_params(cond.timestep_freq_dim, c, cond.timestep_bias) + linear_params(c, cond.timestep_outputs * c, cond.timestep_bias)
    return mlp + norm_params(cond.timestep_norm, cond.timestep_freq_dim)


def condition_embed_params(spec: VideoDiTSpec) -> int:
    """A second patch embedding of a conditioning input added to the visual tokens (Open-Sora 2.0 cond_in)."""
    channels = spec.condition_embed_channels
    return linear_params(channels * spec.patch_pixels, spec.width, True) if channels else 0


def embedder_params(spec: VideoDiTSpec) -> dict[str, int]:
    """Everything outside the blocks except the final layer."""
    d, dy, cond = spec.width, spec.text_stream_width, spec.conditioning
    c = cond.width
    caption = caption_projection_params(spec)
    refiner = 0
    if spec.token_refiner is not None:
        r = spec.token_refiner
        refiner = (_two_layer(r.timestep_freq_dim, d, d) + _two_layer(spec.text_feature_dim, d, d)
                   + r.num_layers * refiner_block_params(spec))
    return {
        "patch_embed": linear_params(spec.in_channels * spec.patch_pixels, d, spec.patch_bias),
        "condition_embed": condition_embed_params(spec),
        "caption_proj": caption,
        "context_embed": sum(context_embedder_params(spec, group) for group in spec.context_embedders),
        "context_type_embed": spec.context_type_embeddings * dy,
        "token_refiner": refiner,
        "timestep_embed": timestep_embed_params(cond),
        "guidance_embed": _two_layer(cond.timestep_freq_dim, c, c) if cond.guidance_embed else 0,
        "pooled_text_embed": _two_layer(cond.pooled_text_dim, c, c) if cond.pooled_text_dim else 0,
        "shared_modulation": linear_params(c, cond.shared_modulation_outputs * d, True) if cond.shared_modulation_outputs else 0,
        "caption_pool": caption_pool_params(spec),
        "rope_freqs": learned_rope_params(spec),
    }


def final_modulation_params(spec: VideoDiTSpec) -> int:
    """The final layer's vectors: a projection with bias, a learned table, or a low-rank pair without biases."""
    final, c = spec.final_layer, spec.conditioning.width
    vectors = final.modulation_outputs * spec.width
    if final.modulation == "per_block":
        return linear_params(c, vectors, True)
    if final.modulation == "shared_table":
        return vectors
    return c * final.modulation_rank + final.modulation_rank * vectors


def final_layer_params(spec: VideoDiTSpec) -> int:
    """Final norms, modulation and the projection to latent patches."""
    d, final = spec.width, spec.final_layer
    norms = sum(norm_params(kind, d) for kind in final.norms)
    return norms + final_modulation_params(spec) + linear_params(d, spec.out_channels * spec.patch_pixels, final.bias)


def video_dit_params(spec: VideoDiTSpec) -> dict[str, int]:
    """Whole model: embedders, each block group, final layer (parts sum to the total)."""
    parts = embedder_params(spec)
    for index, group in enumerate(spec.blocks):
        parts[f"blocks{index}_{group.kind}"] = group.count * block_params(spec, group)
    parts["final_layer"] = final_layer_params(spec)
    return parts


def caption_rows(spec: VideoDiTSpec, text: int) -> int:
    """Rows of the caption the text encoder, the caption projection and the pooling see: the padded caption
    when the spec embeds it padded (Mochi), else the ``text`` tokens a sample carries."""
    return spec.max_text_tokens if spec.embeds_padded_caption else text


def caption_pool_flops(spec: VideoDiTSpec, rows: int) -> int:
    """The pooling over ``rows`` caption rows: the mean is prepended as the one query, keys and values over
    rows + 1 (genmoai/mochi AttentionPool; the unconditional pass still pools the padded rows)."""
    if not spec.conditioning.caption_pool_heads:
        return 0
    f, pooled = spec.text_feature_dim, rows + 1
    return (matmul_flops(pooled, f, POOL_KV * f) + matmul_flops(1, f, f) + attention_flops(1, pooled, f)
            + matmul_flops(1, f, spec.conditioning.width))


def learned_rope_flops(spec: VideoDiTSpec, visual: int) -> int:
    """Learned rotary angles: positions (N, 3) @ frequencies (3, heads x head_dim/2); a fixed table costs none."""
    return matmul_flops(visual, ROPE_AXES, spec.num_heads * spec.head_dim // 2) if spec.rope == "learned_3d" else 0


def caption_projection_flops(spec: VideoDiTSpec, rows: int) -> int:
    """The caption projection on ``rows`` caption rows (none: the blocks project the features themselves)."""
    dy = spec.text_stream_width
    if spec.caption_projection == "none":
        return 0
    mlp = matmul_flops(rows, dy, dy) if spec.caption_projection == "mlp" else 0
    return matmul_flops(rows, spec.text_feature_dim, dy) + mlp


def embedder_flops(spec: VideoDiTSpec, visual: int, text: int) -> int:
    """Patch (and conditioning) embedding, caption and context projections, caption pooling, learned rotary
    angles, token refiner and the per-sample conditioning MLPs."""
    d, cond = spec.width, spec.conditioning
    c, caption = cond.width, caption_rows(spec, text)
    flops = matmul_flops(visual, spec.in_channels * spec.patch_pixels, d) + caption_projection_flops(spec, caption)
    flops += matmul_flops(visual, spec.condition_embed_channels * spec.patch_pixels, d)
    flops += sum(context_embedder_flops(spec, group) for group in spec.context_embedders)
    flops += caption_pool_flops(spec, caption) + learned_rope_flops(spec, visual)
    if spec.token_refiner is not None:
        r = spec.token_refiner
        mlp = MLPOptions(activation="silu", hidden=r.mlp_hidden)
        per_block = (matmul_flops(text, d, QKV * d) + matmul_flops(text, d, d) + attention_flops(text, text, d)
                     + mlp_forward_flops(mlp, text, d) + matmul_flops(1, d, 2 * d))
        flops += (_two_layer_flops(1, r.timestep_freq_dim, d, d) + _two_layer_flops(1, spec.text_feature_dim, d, d)
                  + r.num_layers * per_block)
    flops += _two_layer_flops(1, cond.timestep_freq_dim, c, cond.timestep_outputs * c)
    if cond.guidance_embed:
        flops += _two_layer_flops(1, cond.timestep_freq_dim, c, c)
    if cond.pooled_text_dim:
        flops += _two_layer_flops(1, cond.pooled_text_dim, c, c)
    return flops + matmul_flops(1, c, cond.shared_modulation_outputs * d)


def final_modulation_flops(spec: VideoDiTSpec) -> int:
    """The final modulation of one sample (one row; a table is only added)."""
    final, c = spec.final_layer, spec.conditioning.width
    vectors = final.modulation_outputs * spec.width
    if final.modulation == "per_block":
        return matmul_flops(1, c, vectors)
    if final.modulation == "shared_table":
        return 0
    return matmul_flops(1, c, final.modulation_rank) + matmul_flops(1, final.modulation_rank, vectors)


def final_layer_flops(spec: VideoDiTSpec, visual: int) -> int:
    """Final modulation (one row) and the projection of every visual token to its patch."""
    return final_modulation_flops(spec) + matmul_flops(visual, spec.width, spec.out_channels * spec.patch_pixels)


def block_text_tokens(spec: VideoDiTSpec, text: int) -> int:
    """Text-side tokens in every block: the caption's ``text`` and the context embedders' groups."""
    return text + spec.context_tokens


def video_dit_forward_flops(spec: VideoDiTSpec, visual: int, text: int) -> dict[str, int]:
    """Whole forward for one sample of ``visual`` tokens and ``text`` caption tokens (the blocks see the context
    groups' tokens too), by kind of work (keys as flops.dit_forward_flops plus ``cross_attention``)."""
    totals = {"attention": 0, "cross_attention": 0, "linear_visual": 0, "linear_text": 0, "modulation": 0}
    for group in spec.blocks:
        for key, value in block_flops(spec, group, visual, block_text_tokens(spec, text)).items():
            totals[key] += group.count * value
    totals["embeddings"] = embedder_flops(spec, visual, text)
    totals["final_layer"] = final_layer_flops(spec, visual)
    return totals


@dataclass(frozen=True)
class SavedPerToken:
    """Elements a token of one stream leaves for backward in one block: activation dtype and fp32 stats; of
    them, ``replicated`` and ``replicated_stats`` lie outside the tensor-parallel regions (the d-wide tensors
    of norms, residuals and gates, and per-row norm statistics), which tensor parallelism splits only with
    sequence parallelism (Korthikanti et al. 2022, sec. 4.2.2); the rest (attention, MLP hidden, per-head
    statistics) it always splits."""

    activation: int
    stats: int
    replicated: int = 0
    replicated_stats: int = 0


def _norm_saved(kind: NormKind, modulated: bool, width: int) -> int:
    """A pre-sublayer norm: its input and its output (the next matmul's input); with modulation also the
    normalised tensor the scale multiplies. A fused norm keeps no pre-scale copy for its own affine."""
    kept = 1 if kind == "none" else 2
    return (kept + int(modulated)) * width


def _post_norm_saved(kind: NormKind, width: int) -> int:
    """A post-sublayer ('sandwich') norm: its output, which the gate multiplies (its input, the sublayer's
    output, is counted with the sublayer)."""
    return 0 if kind == "none" else width


def _attention_saved(opts: AttentionOptions, attn: int, projected: int, rope: str, joint: bool = False) -> int:
    """a-wide tensors of an attention for one token: ``projected`` of q/k/v (3 self, 1 query side, 2 key/value
    side); an RMS q/k norm with a learned scale keeps its normalised q/k; a q/k norm or the rotary embedding
    makes new q/k that flash attention keeps (otherwise it keeps the projections themselves); the query
    side keeps flash's output (the out-projection's input).

    How an implementation holds its tensors adds (reference_model/dit.py, genmoai/mochi):
    a learned rotary embedding keeps its input, the normalised q/k (its frequencies need their gradient);
    a fused q/k/v projection whose storage the q/k norm (or the learned rotation) keeps holds v's projection
    too, besides the concatenated copy a joint attention reads; a copied attention output is kept twice.
    """
    qk_rows = QK_ROWS_BY_PROJECTED[projected]
    normed, learned_rope = opts.qk_norm.kind != "none", rope == "learned_3d"
    saved = projected * attn
    if opts.qk_norm.kind == "rms" and opts.qk_norm.affine:
        saved += qk_rows * attn  # eager RMSNorm keeps the normalised q/k for its scale's gradient (LayerNorm is fused)
    if normed or rope != "none":
        saved += qk_rows * attn
    if learned_rope and normed:
        saved += qk_rows * attn
    if joint and opts.fused_qkv and (normed or learned_rope):
        saved += attn
    if projected != 2:
        saved += attn * (2 if opts.output_copied else 1)
    return saved


def _qk_stats(opts: AttentionOptions, heads: int, rows: int) -> int:
    if opts.qk_norm.kind == "none":
        return 0
    per_norm = 1 if opts.qk_norm.across_heads else heads
    return rows * per_norm * (2 if opts.qk_norm.kind == "layer" else 1)


def _mlp_saved(mlp: MLPOptions) -> int:
    """The MLP's first-layer output and the f-wide input of its second layer (a gated MLP also its
    activation output): 4f gated (SwiGLU: 2f, silu f, product f), 2f otherwise."""
    return mlp_first_width(mlp) + mlp.hidden * (GATED_HALVES if mlp.gated else 1)


def joint_stream_saved(spec: VideoDiTSpec, block: JointBlock, stream: JointStream, recompute: str) -> SavedPerToken:
    """Elements one token of a joint block's stream saves (width d, attention width a, MLP first layer f1).

    none, an updated stream: each pre-sublayer norm its input, output and modulated copy (2 x 3d); the
    attention's a-wide tensors (_attention_saved, the streams' q/k/v concatenated); the out-projection's and
    the MLP's outputs (2d) and, with post-norms, their normalised outputs (2d); the MLP's f-wide tensors;
    fp32: the norms' statistics, q/k norm statistics, flash log-sum-exp per head. Mochi's stream: 10d + 12a
    + 4f visual, 10d + 10a + 4f text (no rotation), fp32 4 + 3 heads.
    none, a stream the block does not update (Mochi's last text stream): its first norm 3d and the attention.
    selective (matmul and flash outputs cached, element-wise ops recomputed): block input d, q/k/v 3a, flash
    output a; updated also the out-projection and MLP outputs 2d and the first MLP layer f1; log-sum-exp.
    full: the block input d.
    """
    d, a, heads = stream.width, spec.attn_width, spec.num_heads
    if recompute == "full":
        return SavedPerToken(d, 0)
    if recompute == "selective":
        kept = d + QKV * a + a
        return SavedPerToken(kept + 2 * d + mlp_first_width(stream.mlp) if stream.updated else kept, heads)
    attention = _attention_saved(block.attention, a, QKV, stream.rope, joint=True)
    attention_stats = _qk_stats(block.attention, heads, QK) + heads
    norm_stats = NORM_STATS_PER_ROW[block.norm]
    if not stream.updated:
        return SavedPerToken(_norm_saved(block.norm, True, d) + attention, norm_stats + attention_stats)
    sublayer_outputs = 2 * d + 2 * _post_norm_saved(block.post_norm, d)
    activation = 2 * _norm_saved(block.norm, True, d) + attention + sublayer_outputs + _mlp_saved(stream.mlp)
    return SavedPerToken(activation, 2 * norm_stats + 2 * NORM_STATS_PER_ROW[block.post_norm] + attention_stats)


def block_saved(spec: VideoDiTSpec, block, recompute: str) -> tuple[SavedPerToken, SavedPerToken]:
    """(visual, text) elements a token saves in one block under a recompute mode.

    Derived by listing the tensors a PyTorch block with flash attention keeps (conventions of
    memory.saved_elements_per_token), and checked against diffusers' Wan, LTX-Video, HunyuanVideo and
    CogVideoX blocks with saved_tensors_hooks (tests/test_block_memory.py, within 1%), and Mochi's
    blocks as reference_model/dit.py builds them (tests/test_asymm_translation.py, tests/test_profiling.py).
    Joint blocks: joint_stream_saved.
    none: each pre-sublayer norm its input and output d, plus the normalised tensor d when modulated; the
      attention's a-wide tensors (_attention_saved); the gated sublayer outputs d; the MLP's first-layer
      output and the f-wide input of its second layer (a gated MLP also its activation output); fp32: norm
      statistics, q/k norm statistics, flash log-sum-exp per head.
    selective (matmul and flash outputs cached, element-wise ops recomputed): the block input d and every
      matmul and flash output, plus the log-sum-exp.
    full: the block input d (text feeding only cross-attention keys/values: nothing, it is the same tensor
      in every block).
    """
    if isinstance(block, JointBlock):
        visual, text = joint_streams(spec, block)
        return joint_stream_saved(spec, block, visual, recompute), joint_stream_saved(spec, block, text, recompute)
    d, heads = spec.width, spec.num_heads
    mlp = block.mlp
    first = mlp_first_width(mlp)
    norm_stats = NORM_STATS_PER_ROW[block.norm]
    if isinstance(block, CrossBlock):
        if recompute == "full":
            return SavedPerToken(d, 0), SavedPerToken(0, 0)
        if recompute == "selective":
            return SavedPerToken(4 * d + 6 * d + first, 2 * heads), SavedPerToken(KV * d, 0)
        # a modulated cross-attention (Cosmos) keeps its norm's pre-scale copy and its gated output as well
        cross_gate = d if block.cross_modulated else 0
        visual = (_norm_saved(block.norm, True, d) + _attention_saved(block.attention, d, QKV, spec.rope) + d
                  + _norm_saved(block.cross_norm, block.cross_modulated, d) + _attention_saved(block.cross_attention, d, 1, "none")
                  + cross_gate + _norm_saved(block.norm, True, d) + _mlp_saved(mlp) + d)
        stats = (2 * norm_stats + NORM_STATS_PER_ROW[block.cross_norm] + _qk_stats(block.attention, heads, 2)
                 + _qk_stats(block.cross_attention, heads, 1) + 2 * heads)
        text = _attention_saved(block.cross_attention, d, KV, "none")
        return SavedPerToken(visual, stats), SavedPerToken(text, _qk_stats(block.cross_attention, heads, 1))
    if recompute == "full":
        one = SavedPerToken(d, 0)
        return one, one
    if recompute == "selective":
        linear = (2 * d + QKV * d + d + first) if block.parallel else (3 * d + QKV * d + d + first)
        return SavedPerToken(linear, heads), SavedPerToken(linear, heads)

    def stream(rope: str) -> SavedPerToken:
        attention = _attention_saved(block.attention, d, QKV, rope)
        if block.parallel:
            # one norm; the MLP's first-layer output; the concatenated [attention, MLP activation] input of
            # the fused out-projection (d + f wide, holding the activation's output); its gated output d
            gate_product = mlp.hidden if mlp.gated else 0  # the activation output the gate product needs
            act_elems = _norm_saved(block.norm, True, d) + attention + first + gate_product + d + mlp.hidden + d
            return SavedPerToken(act_elems, norm_stats + _qk_stats(block.attention, heads, 2) + heads)
        act_elems = 2 * _norm_saved(block.norm, True, d) + attention + d + _mlp_saved(mlp) + d
        return SavedPerToken(act_elems, 2 * norm_stats + _qk_stats(block.attention, heads, 2) + heads)

    return stream(spec.rope), stream("none")  # the rotary embedding rotates the visual tokens only


def tp_collectives_per_block(block) -> tuple[int, int]:
    """(visual, text) tensor-parallel all-reduces (or reduce-scatter + all-gather pairs) a block and pass.

    Megatron splits each attention and MLP into a column- then a row-parallel matmul, one reduction at
    the end of each (Shoeybi et al. 2019). Cross blocks: self-attention, cross-attention and MLP on the
    visual rows; the text rows only enter the column-parallel key/value projections (no reduction).
    Parallel single blocks: one fused out-projection, one reduction. Joint blocks: attention and MLP on
    each stream; a joint block that does not update its text stream (Mochi's last) is counted the same,
    as the asymm_dit planner always counted it (its text rows pass no row-parallel matmul: an upper bound).
    """
    if isinstance(block, CrossBlock):
        return 3, 0
    if isinstance(block, SingleBlock) and block.parallel:
        return 1, 1
    return 2, 2
