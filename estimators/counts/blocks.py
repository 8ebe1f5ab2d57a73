"""Parameters, forward FLOPs, saved activations and tensor-parallel collectives of the ``video_dit``
block vocabulary (specs/dit_blocks.py).

Shapes follow diffusers 0.42 (WanTransformer3DModel, HunyuanVideoTransformer3DModel,
CogVideoXTransformer3DModel, LTXVideoTransformer3DModel), checked to the unit on the meta device in
tests/test_video_dit_exact.py. FLOPs follow flops.py's FlopCounterMode conventions: matmuls and
attention products at 2 FLOPs a multiply-add, full S^2 (bidirectional), element-wise ops, norms and
the rotary embedding not counted. Modulation runs once a sample (one row), not per token.
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.counts.flops import attention_flops, matmul_flops
from estimators.counts.params import linear_params
from estimators.specs.dit_blocks import (
    AttentionOptions,
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


def modulation_params(mod: Modulation, cond: int, width: int) -> int:
    """A block's adaLN parameters: its projection (with bias), its table, or its low-rank pair (no bias)."""
    vectors = (mod.outputs + mod.text_outputs) * width
    if mod.kind == "per_block":
        return linear_params(cond, vectors, bias=True)
    if mod.kind == "shared_table":
        return vectors
    return mod.groups * cond * mod.rank + mod.rank * vectors


def modulation_flops(mod: Modulation, cond: int, width: int) -> int:
    """One sample's adaLN matmuls in a block (a shared table is only added: no FLOPs)."""
    vectors = (mod.outputs + mod.text_outputs) * width
    if mod.kind == "per_block":
        return matmul_flops(1, cond, vectors)
    if mod.kind == "shared_table":
        return 0
    return mod.groups * matmul_flops(1, cond, mod.rank) + matmul_flops(1, mod.rank, vectors)


def block_params(spec: VideoDiTSpec, block) -> int:
    """Parameters of one block of a group."""
    d, hd, c = spec.width, spec.head_dim, spec.conditioning.width
    mod = modulation_params(block.modulation, c, d)
    if isinstance(block, CrossBlock):
        return (
            2 * norm_params(block.norm, d) + norm_params(block.cross_norm, d)
            + attention_params(block.attention, d, d, d, d, hd)
            + attention_params(block.cross_attention, d, d, d, d, hd)
            + mlp_params(block.mlp, d) + mod
        )
    if isinstance(block, JointBlock):
        stream = 2 * norm_params(block.norm, d) + attention_params(block.attention, d, d, d, d, hd) + mlp_params(block.mlp, d)
        return 2 * stream + mod
    if block.parallel:
        # q, k, v and the MLP's first layer from one norm; one out-projection of [attention, MLP hidden]
        return (
            norm_params(block.norm, d) + attention_params(block.attention, d, d, d, d, hd, out_proj=False)
            + linear_params(d, mlp_first_width(block.mlp), block.mlp.bias)
            + linear_params(d + block.mlp.hidden, d, block.attention.out_bias) + mod
        )
    return 2 * norm_params(block.norm, d) + attention_params(block.attention, d, d, d, d, hd) + mlp_params(block.mlp, d) + mod


def block_flops(spec: VideoDiTSpec, block, visual: int, text: int) -> dict[str, int]:
    """Forward FLOPs of one block for one sample of ``visual`` + ``text`` tokens, by kind of work."""
    d, c = spec.width, spec.conditioning.width
    out = {"attention": 0, "cross_attention": 0, "linear_visual": 0, "linear_text": 0,
           "modulation": modulation_flops(block.modulation, c, d)}
    if isinstance(block, CrossBlock):
        out["attention"] = attention_flops(visual, visual, d)
        out["cross_attention"] = attention_flops(visual, text, d)
        # self q, k, v, out; cross q and out; MLP
        out["linear_visual"] = (matmul_flops(visual, d, QKV * d) + 3 * matmul_flops(visual, d, d)
                                + mlp_forward_flops(block.mlp, visual, d))
        out["linear_text"] = matmul_flops(text, d, KV * d)  # the cross-attention's keys and values
        return out
    out["attention"] = attention_flops(visual + text, visual + text, d)
    for key, rows in (("linear_visual", visual), ("linear_text", text)):
        if isinstance(block, SingleBlock) and block.parallel:
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


def embedder_params(spec: VideoDiTSpec) -> dict[str, int]:
    """Everything outside the blocks except the final layer."""
    d, cond = spec.width, spec.conditioning
    c = cond.width
    caption = linear_params(spec.text_feature_dim, d, True)
    if spec.caption_projection == "mlp":
        caption += linear_params(d, d, True)
    refiner = 0
    if spec.token_refiner is not None:
        r = spec.token_refiner
        refiner = (_two_layer(r.timestep_freq_dim, d, d) + _two_layer(spec.text_feature_dim, d, d)
                   + r.num_layers * refiner_block_params(spec))
    return {
        "patch_embed": linear_params(spec.in_channels * spec.patch_pixels, d, spec.patch_bias),
        "caption_proj": caption,
        "token_refiner": refiner,
        "timestep_embed": _two_layer(cond.timestep_freq_dim, c, c),
        "guidance_embed": _two_layer(cond.timestep_freq_dim, c, c) if cond.guidance_embed else 0,
        "pooled_text_embed": _two_layer(cond.pooled_text_dim, c, c) if cond.pooled_text_dim else 0,
        "shared_modulation": linear_params(c, cond.shared_modulation_outputs * d, True) if cond.shared_modulation_outputs else 0,
    }


def final_layer_params(spec: VideoDiTSpec) -> int:
    """Final norms, modulation and the projection to latent patches."""
    d, final = spec.width, spec.final_layer
    vectors = final.modulation_outputs * d
    mod = linear_params(spec.conditioning.width, vectors, True) if final.modulation == "per_block" else vectors
    norms = sum(norm_params(kind, d) for kind in final.norms)
    return norms + mod + linear_params(d, spec.out_channels * spec.patch_pixels, True)


def video_dit_params(spec: VideoDiTSpec) -> dict[str, int]:
    """Whole model: embedders, each block group, final layer (parts sum to the total)."""
    parts = embedder_params(spec)
    for index, group in enumerate(spec.blocks):
        parts[f"blocks{index}_{group.kind}"] = group.count * block_params(spec, group)
    parts["final_layer"] = final_layer_params(spec)
    return parts


def embedder_flops(spec: VideoDiTSpec, visual: int, text: int) -> int:
    """Patch and caption embedding, token refiner and the per-sample conditioning MLPs."""
    d, cond = spec.width, spec.conditioning
    c = cond.width
    flops = matmul_flops(visual, spec.in_channels * spec.patch_pixels, d) + matmul_flops(text, spec.text_feature_dim, d)
    if spec.caption_projection == "mlp":
        flops += matmul_flops(text, d, d)
    if spec.token_refiner is not None:
        r = spec.token_refiner
        mlp = MLPOptions(activation="silu", hidden=r.mlp_hidden)
        per_block = (matmul_flops(text, d, QKV * d) + matmul_flops(text, d, d) + attention_flops(text, text, d)
                     + mlp_forward_flops(mlp, text, d) + matmul_flops(1, d, 2 * d))
        flops += (_two_layer_flops(1, r.timestep_freq_dim, d, d) + _two_layer_flops(1, spec.text_feature_dim, d, d)
                  + r.num_layers * per_block)
    flops += _two_layer_flops(1, cond.timestep_freq_dim, c, c)
    if cond.guidance_embed:
        flops += _two_layer_flops(1, cond.timestep_freq_dim, c, c)
    if cond.pooled_text_dim:
        flops += _two_layer_flops(1, cond.pooled_text_dim, c, c)
    return flops + matmul_flops(1, c, cond.shared_modulation_outputs * d)


def final_layer_flops(spec: VideoDiTSpec, visual: int) -> int:
    """Final modulation (one row) and the projection of every visual token to its patch."""
    d, final = spec.width, spec.final_layer
    mod = matmul_flops(1, spec.conditioning.width, final.modulation_outputs * d) if final.modulation == "per_block" else 0
    return mod + matmul_flops(visual, d, spec.out_channels * spec.patch_pixels)


def video_dit_forward_flops(spec: VideoDiTSpec, visual: int, text: int) -> dict[str, int]:
    """Whole forward for one sample of ``visual`` + ``text`` tokens, by kind of work (keys as flops.dit_forward_flops
    plus ``cross_attention``)."""
    totals = {"attention": 0, "cross_attention": 0, "linear_visual": 0, "linear_text": 0, "modulation": 0}
    for group in spec.blocks:
        for key, value in block_flops(spec, group, visual, text).items():
            totals[key] += group.count * value
    totals["embeddings"] = embedder_flops(spec, visual, text)
    totals["final_layer"] = final_layer_flops(spec, visual)
    return totals


@dataclass(frozen=True)
class SavedPerToken:
    """Elements a token of one stream leaves for backward in one block: activation dtype and fp32 stats."""

    activation: int
    stats: int


def _norm_saved(kind: NormKind, modulated: bool, width: int) -> int:
    """A pre-sublayer norm: its input and its output (the next matmul's input); with modulation also the
    normalised tensor the scale multiplies. A fused norm keeps no pre-scale copy for its own affine."""
    kept = 1 if kind == "none" else 2
    return (kept + int(modulated)) * width


def _attention_saved(opts: AttentionOptions, attn: int, projected: int, rope: bool) -> int:
    """a-wide tensors of an attention for one token: ``projected`` of q/k/v (3 self, 1 query side, 2 key/value
    side); an RMS q/k norm with a learned scale keeps its normalised q/k; a q/k norm or the rotary embedding
    makes new q/k that flash attention keeps (otherwise it keeps the projections themselves); the query
    side keeps flash's output (the out-projection's input)."""
    qk_rows = QK_ROWS_BY_PROJECTED[projected]
    saved = projected * attn
    if opts.qk_norm.kind == "rms" and opts.qk_norm.affine:
        saved += qk_rows * attn  # eager RMSNorm keeps the normalised q/k for its scale's gradient (LayerNorm is fused)
    if opts.qk_norm.kind != "none" or rope:
        saved += qk_rows * attn
    if projected != 2:
        saved += attn
    return saved


def _qk_stats(opts: AttentionOptions, heads: int, rows: int) -> int:
    if opts.qk_norm.kind == "none":
        return 0
    per_norm = 1 if opts.qk_norm.across_heads else heads
    return rows * per_norm * (2 if opts.qk_norm.kind == "layer" else 1)


def block_saved(spec: VideoDiTSpec, block, recompute: str) -> tuple[SavedPerToken, SavedPerToken]:
    """(visual, text) elements a token saves in one block under a recompute mode.

    Derived by listing the tensors a PyTorch block with flash attention keeps (conventions of
    memory.saved_elements_per_token), and checked against diffusers' Wan, LTX-Video, HunyuanVideo and
    CogVideoX blocks with saved_tensors_hooks (tests/test_block_memory.py, within 1%).
    none: each pre-sublayer norm its input and output d, plus the normalised tensor d when modulated; the
      attention's a-wide tensors (_attention_saved); the gated sublayer outputs d; the MLP's first-layer
      output and the f-wide input of its second layer (a gated MLP also its activation output); fp32: norm
      statistics, q/k norm statistics, flash log-sum-exp per head.
    selective (matmul and flash outputs cached, element-wise ops recomputed): the block input d and every
      matmul and flash output, plus the log-sum-exp.
    full: the block input d (text feeding only cross-attention keys/values: nothing, it is the same tensor
      in every block).
    """
    d, heads, rope = spec.width, spec.num_heads, spec.rope != "none"
    mlp = block.mlp
    first, act = mlp_first_width(mlp), mlp.hidden * (2 if mlp.gated else 1)
    norm_stats = NORM_STATS_PER_ROW[block.norm]
    if isinstance(block, CrossBlock):
        if recompute == "full":
            return SavedPerToken(d, 0), SavedPerToken(0, 0)
        if recompute == "selective":
            return SavedPerToken(4 * d + 6 * d + first, 2 * heads), SavedPerToken(KV * d, 0)
        visual = (_norm_saved(block.norm, True, d) + _attention_saved(block.attention, d, QKV, rope) + d
                  + _norm_saved(block.cross_norm, False, d) + _attention_saved(block.cross_attention, d, 1, False)
                  + _norm_saved(block.norm, True, d) + first + act + d)
        stats = (2 * norm_stats + NORM_STATS_PER_ROW[block.cross_norm] + _qk_stats(block.attention, heads, 2)
                 + _qk_stats(block.cross_attention, heads, 1) + 2 * heads)
        text = _attention_saved(block.cross_attention, d, KV, False)
        return SavedPerToken(visual, stats), SavedPerToken(text, _qk_stats(block.cross_attention, heads, 1))
    parallel = isinstance(block, SingleBlock) and block.parallel
    if recompute == "full":
        one = SavedPerToken(d, 0)
        return one, one
    if recompute == "selective":
        linear = (2 * d + QKV * d + d + first) if parallel else (3 * d + QKV * d + d + first)
        return SavedPerToken(linear, heads), SavedPerToken(linear, heads)

    def stream(with_rope: bool) -> SavedPerToken:
        attention = _attention_saved(block.attention, d, QKV, with_rope)
        if parallel:
            # one norm; the MLP's first-layer output; the concatenated [attention, MLP activation] input of
            # the fused out-projection (d + f wide, holding the activation's output); its gated output d
            gate_product = mlp.hidden if mlp.gated else 0  # the activation output the gate product needs
            act_elems = _norm_saved(block.norm, True, d) + attention + first + gate_product + d + mlp.hidden + d
            return SavedPerToken(act_elems, norm_stats + _qk_stats(block.attention, heads, 2) + heads)
        act_elems = 2 * _norm_saved(block.norm, True, d) + attention + d + first + act + d
        return SavedPerToken(act_elems, 2 * norm_stats + _qk_stats(block.attention, heads, 2) + heads)

    return stream(rope), stream(False)  # the rotary embedding rotates the visual tokens only


def tp_collectives_per_block(block) -> tuple[int, int]:
    """(visual, text) tensor-parallel all-reduces (or reduce-scatter + all-gather pairs) a block and pass.

    Megatron splits each attention and MLP into a column- then a row-parallel matmul, one reduction at
    the end of each (Shoeybi et al. 2019). Cross blocks: self-attention, cross-attention and MLP on the
    visual rows; the text rows only enter the column-parallel key/value projections (no reduction).
    Parallel single blocks: one fused out-projection, one reduction.
    """
    if isinstance(block, CrossBlock):
        return 3, 0
    if isinstance(block, SingleBlock) and block.parallel:
        return 1, 1
    return 2, 2
