"""What a training implementation saves for backward: per block kind, per recompute mode, per dtype, and
outside the blocks (embedders, RoPE tables, final layer, loss).

Three implementations, a named property of the training stack (data/stacks/stacks.yaml
``saved_activations``):
- ``pytorch-reference``: plain PyTorch modules with flash attention, the reference model's convention
  (blocks.block_saved; checked in tests/test_profiling.py and tests/test_block_memory.py).
- ``diffusers``: diffusers' transformer classes run eagerly (FSDP2 wraps them unchanged) with fused
  attention (flash/cuDNN: q, k, v, output and an fp32 log-sum-exp a head), torch's F.rms_norm fused
  (_fused_rms_norm on CUDA: its input, scale and fp32 rstd), diffusers' own RMSNorm / MochiRMSNorm eager
  (EAGER_QK_NORM below), and the fp32 upcasts each class performs (Fp32Upcasts in specs/dit_blocks.py).
  Checked against the classes at full size in bf16 (tests/test_fullsize_memory.py, tests/saved_fullsize.py).
- ``megatron-te``: Megatron-Core with Transformer Engine: fused norms keep their input and statistics
  (LayerNormLinear: the input and the normalised GEMM input), fused RoPE keeps only its frequency table,
  cuDNN attention keeps q, k, v, output and the log-sum-exp, and the out-projection reads the kernel's
  output in place (sbhd layout, no copy): Korthikanti et al. 2022, sec. 4 and Table 2 (34 sbh a layer
  for a GPT: the tensors below for a plain block), and Megatron-LM theoretical_memory_usage.py.

Elements a token saves are (activation-dtype elements, fp32 elements); fp32 elements are the norms'
and the attention's statistics and the fp32 copies an implementation makes. Under selective and full
recompute every implementation keeps what blocks.block_saved lists (the block input; or the matmul and
attention outputs), which are activation-dtype tensors the checkpointing caches whatever the modules.
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.counts.blocks import (
    NORM_STATS_PER_ROW,
    QK_ROWS_BY_PROJECTED,
    SavedPerToken,
    _mlp_saved,
    _norm_saved,
    _qk_stats,
    block_saved,
    caption_rows,
    joint_streams,
    mlp_first_width,
)
from estimators.specs.dit_blocks import AttentionOptions, CrossBlock, Fp32Upcasts, JointBlock, NormKind, VideoDiTSpec
from estimators.units import FP32_BYTES

IMPLEMENTATIONS = ("pytorch-reference", "diffusers", "megatron-te", "diffusers-autocast")  # the last: counts/saved_autocast.py
NO_UPCASTS = Fp32Upcasts()
# Learned RoPE in fp32 outside the blocks, per visual token, in attention widths: the angles (a/2) and
# their cosine and sine (a/2 each, broadcast over the batch): diffusers MochiRoPE (torch.cos/sin of
# positions @ frequencies, the frequencies learned, so autograd keeps the angles and both tables).
LEARNED_ROPE_TABLE_WIDTHS = 1.5
FIXED_ROPE_TABLES = 2  # cosine and sine of one head's width, fp32, shared by every head and block
LOSS_FP32_COPIES = 2  # F.mse_loss(prediction.float(), target.float()) keeps both fp32 copies
# (activation, fp32) q/k-wide elements an eager diffusers q/k norm keeps a normed row beyond a fused RMSNorm (its
# input, scale, rstd), per Fp32Upcasts.qk_norms; diffusers 0.42.1 models/normalization.py. RMSNorm.forward:
# variance = hidden_states.to(float32).pow(2).mean(-1): pow keeps its fp32 input copy; hidden_states * rsqrt(...)
# keeps the input and rstd (as fused); the fp32 product is cast to the bf16 scale's dtype and `* self.weight` keeps
# that bf16 cast (for the scale's gradient). MochiRMSNorm.forward: the same fp32 copy, then `* self.weight` before
# the cast back, so the kept normalised tensor is fp32. Under LoRA the scale is frozen: only the fp32 copy stays.
EAGER_QK_NORM = {"none": (0, 0), "rms_norm": (1, 1), "mochi_rms_norm": (0, 2)}
EAGER_QK_NORM_FROZEN_SCALE = {"none": (0, 0), "rms_norm": (0, 1), "mochi_rms_norm": (0, 1)}


@dataclass(frozen=True)
class Implementation:
    """How an implementation holds its tensors, beyond what the vocabulary's block computes."""

    name: str
    upcasts: bool  # the model's fp32 upcasts (Fp32Upcasts) happen
    output_copy: bool  # the out-projection reads a tokens-major copy of the heads-major attention output

    def casts(self, block) -> Fp32Upcasts:
        return block.diffusers_fp32 if self.upcasts else NO_UPCASTS


FUSED = {
    "diffusers": Implementation("diffusers", upcasts=True, output_copy=True),
    "megatron-te": Implementation("megatron-te", upcasts=False, output_copy=False),
}


def _add(*parts: tuple[int, int]) -> tuple[int, int]:
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def pre_norm(kind: NormKind, modulated: bool, width: int, fp32: bool, fp32_copy: bool = False) -> tuple[int, int]:
    """(activation, fp32) elements of a norm before a matmul, the matmul's input included.

    fp32: the norm keeps its fp32 input, the modulation's product the fp32 normalised tensor (modulated),
    and the cast-back output is the matmul's input. Otherwise blocks._norm_saved: input, normalised (when
    modulated) and the matmul's input, or only the matmul's input without a norm; ``fp32_copy`` (an eager
    diffusers RMSNorm on a bf16 input, Fp32Upcasts.pre_norm_fp32_copy) adds the fp32 copy its ``pow`` keeps."""
    if fp32 and kind != "none":
        return width, (1 + int(modulated)) * width
    return _norm_saved(kind, modulated, width), (width if fp32_copy and kind != "none" else 0)


def gated_output(post_norm: NormKind, width: int, post_fp32: bool, residual_fp32: bool) -> tuple[int, int]:
    """(activation, fp32) elements of a sublayer's gated residual: the gate's product keeps the sublayer's output
    (fp32 copy when the residual add runs in fp32); a post-norm keeps its input and its normalised output
    (Mochi: both fp32, the gate folded into the norm's scale)."""
    if post_norm != "none":
        return (0, 2 * width) if post_fp32 else (2 * width, 0)
    return (0, width) if residual_fp32 else (width, 0)


def attention(opts: AttentionOptions, attn: int, projected: int, impl: Implementation, learned_rope_fp32: bool = False,
              copy: bool | None = None, eager_qk: str = "none") -> tuple[int, int]:
    """(activation, fp32) a-wide elements of an attention for one token of ``projected`` q/k/v (3 self, 1 query
    side, 2 key/value side): a q/k norm keeps its input (the projection), an eager diffusers one also what
    EAGER_QK_NORM lists (``eager_qk``, Fp32Upcasts.qk_norms); the kernel keeps its q, k, v and, query side, its
    output, and the out-projection a copy of it (``copy``); a learned RoPE upcast to fp32 keeps the even and odd
    halves of q and k (diffusers MochiAttnProcessor2_0 apply_rotary_emb)."""
    qk_rows = QK_ROWS_BY_PROJECTED[projected]
    query_side = projected != 2
    copy = impl.output_copy if copy is None else copy
    normed = qk_rows * attn if opts.qk_norm.kind != "none" else 0
    eager_act, eager_fp32 = EAGER_QK_NORM[eager_qk]
    act = projected * attn + normed * (1 + eager_act)
    if query_side:
        act += attn * (2 if copy else 1)
    return act, (qk_rows * attn if learned_rope_fp32 else 0) + normed * eager_fp32


def attention_stats(opts: AttentionOptions, heads: int, projected: int) -> int:
    """fp32 statistics: q/k norms, and the log-sum-exp per head on the query side."""
    return _qk_stats(opts, heads, QK_ROWS_BY_PROJECTED[projected]) + (heads if projected != 2 else 0)


def _per_token(replicated: tuple[int, int], split: tuple[int, int], replicated_stats: int, split_stats: int) -> SavedPerToken:
    """A token's elements from the parts outside the tensor-parallel regions (norms, residuals, gates: d-wide,
    and per-row norm statistics) and those inside (attention, MLP hidden, per-head statistics)."""
    total = _add(replicated, split)
    return SavedPerToken(total[0], total[1] + replicated_stats + split_stats, replicated[0], replicated[1] + replicated_stats)


def cross_saved(spec: VideoDiTSpec, block: CrossBlock, impl: Implementation) -> tuple[SavedPerToken, SavedPerToken]:
    """Cross block (Wan, LTX): norm, self-attention, gate; cross norm and cross-attention (no gate); norm, MLP, gate.
    Cosmos (cross_modulated): the cross norm is modulated like the others and the cross-attention's output gated
    (diffusers CosmosTransformerBlock: norm2 then attn2 then gate), so it keeps the normalised tensor and the gate's
    input too. Text tokens: the cross-attention's key side (k norm input, k, v)."""
    d, heads, up = spec.width, spec.num_heads, impl.casts(block)
    learned = up.norms and spec.rope == "learned_3d"
    if block.cross_norm != "none" and up.cross_norm:
        cross_norm = (d, d)  # fp32 input, cast-back matmul input (Wan norm2)
    else:
        cross_norm = pre_norm(block.cross_norm, block.cross_modulated, d, False)
    cross_gate = gated_output("none", d, False, False) if block.cross_modulated else (0, 0)
    norm = pre_norm(block.norm, True, d, up.norms, up.pre_norm_fp32_copy)
    replicated = _add(norm, gated_output("none", d, False, False), cross_norm, cross_gate, norm,
                      gated_output("none", d, False, up.mlp_residual))
    split = _add(attention(block.attention, d, 3, impl, learned, eager_qk=up.qk_norms),
                 attention(block.cross_attention, d, 1, impl, eager_qk=up.qk_norms), (_mlp_saved(block.mlp), 0))
    norm_stats = 2 * NORM_STATS_PER_ROW[block.norm] + NORM_STATS_PER_ROW[block.cross_norm]
    head_stats = attention_stats(block.attention, heads, 3) + attention_stats(block.cross_attention, heads, 1)
    text = _per_token((0, 0), attention(block.cross_attention, d, 2, impl, eager_qk=up.qk_norms), 0,
                      attention_stats(block.cross_attention, heads, 2))
    return _per_token(replicated, split, norm_stats, head_stats), text


def joint_saved(spec: VideoDiTSpec, block: JointBlock, impl: Implementation) -> tuple[SavedPerToken, SavedPerToken]:
    """Joint block (Mochi, HunyuanVideo double): each stream its norm, its rows of the joint attention, gate
    or post-norm, norm, MLP, gate or post-norm; a stream the block does not update only its norm and attention."""
    up, heads, a = impl.casts(block), spec.num_heads, spec.attn_width
    out = []
    for stream in joint_streams(spec, block):
        w = stream.width
        learned = up.norms and stream.rope == "learned_3d"
        norm = pre_norm(block.norm, True, w, up.norms, up.pre_norm_fp32_copy)
        replicated, split = [norm], [attention(block.attention, a, 3, impl, learned, eager_qk=up.qk_norms)]
        norm_stats = NORM_STATS_PER_ROW[block.norm]
        if stream.updated:
            gate = gated_output(block.post_norm, w, up.post_norms, False)
            replicated += [gate, norm, gate]
            split.append((_mlp_saved(stream.mlp), 0))
            norm_stats += NORM_STATS_PER_ROW[block.norm] + 2 * NORM_STATS_PER_ROW[block.post_norm]
        out.append(_per_token(_add(*replicated), _add(*split), norm_stats, attention_stats(block.attention, heads, 3)))
    return out[0], out[1]


def single_saved(spec: VideoDiTSpec, block, impl: Implementation) -> tuple[SavedPerToken, SavedPerToken]:
    """Single block, every token alike. Sequential (CogVideoX): norm, attention, gate, norm, MLP, gate. Parallel
    (HunyuanVideo): one norm; attention without its own out-projection; the MLP's first-layer output (and the
    activation a gated product needs); the concatenated [attention, MLP activation] input of the fused
    out-projection (d + f); its gated output. Plus the copies a class makes by concatenating the streams again."""
    d, heads, up = spec.width, spec.num_heads, impl.casts(block)
    norm = pre_norm(block.norm, True, d, up.norms, up.pre_norm_fp32_copy)
    copies = (up.concat_copies * d, 0)
    gate = gated_output("none", d, False, False)
    if block.parallel:
        gate_product = block.mlp.hidden if block.mlp.gated else 0
        fused_out = (mlp_first_width(block.mlp) + gate_product + d + block.mlp.hidden, 0)
        replicated = _add(norm, copies, gate)
        split = _add(attention(block.attention, d, 3, impl, copy=False, eager_qk=up.qk_norms), fused_out)
        norm_stats = NORM_STATS_PER_ROW[block.norm]
    else:
        replicated = _add(norm, copies, gate, norm, gate)
        split = _add(attention(block.attention, d, 3, impl, eager_qk=up.qk_norms), (_mlp_saved(block.mlp), 0))
        norm_stats = 2 * NORM_STATS_PER_ROW[block.norm]
    one = _per_token(replicated, split, norm_stats, attention_stats(block.attention, heads, 3))
    return one, one


def reference_replicated(spec: VideoDiTSpec, block, recompute: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """((visual, stats), (text, stats)) of blocks.block_saved outside the tensor-parallel regions. Full: the block
    input (all of it). Selective: the block input and the outputs of the row-parallel matmuls (out-projections and
    MLP output, after their reduction). None: norms, gated outputs, post-norms and their per-row statistics."""
    d = spec.width
    if isinstance(block, JointBlock):
        return tuple(_reference_joint_replicated(spec, block, stream, recompute) for stream in joint_streams(spec, block))
    if recompute == "full":
        return ((d, 0), (0, 0)) if isinstance(block, CrossBlock) else ((d, 0), (d, 0))
    if isinstance(block, CrossBlock):
        if recompute == "selective":
            return (4 * d, 0), (0, 0)  # input, self and cross out-projections, MLP output
        norms = 2 * _norm_saved(block.norm, True, d) + _norm_saved(block.cross_norm, False, d)
        return (norms + 2 * d, 2 * NORM_STATS_PER_ROW[block.norm] + NORM_STATS_PER_ROW[block.cross_norm]), (0, 0)
    if recompute == "selective":
        one = ((2 if block.parallel else 3) * d, 0)
    elif block.parallel:
        one = (_norm_saved(block.norm, True, d) + d, NORM_STATS_PER_ROW[block.norm])
    else:
        one = (2 * _norm_saved(block.norm, True, d) + 2 * d, 2 * NORM_STATS_PER_ROW[block.norm])
    return one, one


def _reference_joint_replicated(spec: VideoDiTSpec, block: JointBlock, stream, recompute: str) -> tuple[int, int]:
    d = stream.width
    if recompute == "full":
        return d, 0
    if recompute == "selective":
        return (3 * d if stream.updated else d), 0
    if not stream.updated:
        return _norm_saved(block.norm, True, d), NORM_STATS_PER_ROW[block.norm]
    outputs = 2 * d + 2 * (0 if block.post_norm == "none" else d)
    return (2 * _norm_saved(block.norm, True, d) + outputs,
            2 * NORM_STATS_PER_ROW[block.norm] + 2 * NORM_STATS_PER_ROW[block.post_norm])


def _with_replicated(saved: SavedPerToken, replicated: tuple[int, int]) -> SavedPerToken:
    return SavedPerToken(saved.activation, saved.stats, replicated[0], replicated[1])


def gemm_inputs(spec: VideoDiTSpec, block) -> tuple[int, int]:
    """(visual, text) elements a token keeps as matmul inputs in one block (no recompute): Transformer Engine casts
    each to FP8 for an FP8 GEMM and keeps that 1-byte copy for the weight gradient instead of the bf16 tensor (TE
    Linear / LayerNormLinear / LayerNormMLP under fp8_autocast), so under FP8 a megatron-te token saves these bytes
    less. Cross: self q/k/v and out, cross q and out, the MLP's two; joint: each updated stream's q/k/v, out and MLP
    inputs (the text stream only its q/k/v when not updated); single: q/k/v (and, parallel, the MLP's first layer
    from the same input), out (the fused [attention, MLP] input of width d + f when parallel) and the MLP's two."""
    d = spec.width
    if isinstance(block, CrossBlock):
        return 5 * d + block.mlp.hidden, 0
    if isinstance(block, JointBlock):
        out = []
        for stream in joint_streams(spec, block):
            w = stream.width
            out.append(w + ((spec.attn_width + w + stream.mlp.hidden) if stream.updated else 0))
        return out[0], out[1]
    one = (2 * d + block.mlp.hidden) if block.parallel else (3 * d + block.mlp.hidden)
    return one, one


def block_saved_by(spec: VideoDiTSpec, block, recompute: str, implementation: str) -> tuple[SavedPerToken, SavedPerToken]:
    """(visual, text) elements a token saves in one block under an implementation and recompute mode (full
    training; LoRA: counts/saved_lora.py)."""
    if implementation == "pytorch-reference" or recompute != "none":
        visual, text = block_saved(spec, block, recompute)
        rep_visual, rep_text = reference_replicated(spec, block, recompute)
        return _with_replicated(visual, rep_visual), _with_replicated(text, rep_text)
    impl = FUSED[implementation]
    if isinstance(block, CrossBlock):
        return cross_saved(spec, block, impl)
    if isinstance(block, JointBlock):
        return joint_saved(spec, block, impl)
    return single_saved(spec, block, impl)


def outside_saved_bytes(spec: VideoDiTSpec, visual: int, text: int, implementation: str, activation_bytes: int,
                        frozen: bool = False) -> dict[str, float]:
    """Bytes one sample saves outside the blocks, by part (the busiest stage holds them: embedders on the first,
    final layer and loss on the last, RoPE tables on every stage that rotates).

    patch_embed: the patchified latent, the embedding's input. caption_proj: the caption features (and, for an
    MLP projection, its hidden pre-activation and activation). rope_tables: fp32 cosine and sine tables a visual
    token (learned RoPE: also the angles; LEARNED_ROPE_TABLE_WIDTHS). final_layer: each norm's input and, for the
    modulated last norm, its normalised output (fp32 where the class upcasts), and the projection's input.
    loss: the fp32 copies of prediction and target. Left out (each under 0.01% of a preset's total): per-sample
    conditioning MLPs, the caption pooling and HunyuanVideo's token refiner on the caption rows.
    ``frozen`` (LoRA, counts/saved_lora.py): the embedders, the learned RoPE frequencies and the final layer are
    frozen, so only the cosine and sine tables, the final norms' inputs and the loss remain.
    """
    act, d = activation_bytes, spec.width
    fp32_final = spec.final_layer.diffusers_fp32 and implementation == "diffusers"
    caption = caption_rows(spec, text) * (spec.text_feature_dim + (2 * spec.text_stream_width if spec.caption_projection == "mlp" else 0))
    rope = 0.0
    if spec.rope == "learned_3d":
        rope = (LEARNED_ROPE_TABLE_WIDTHS - (0.5 if frozen else 0.0)) * spec.attn_width
    elif spec.rope == "fixed_3d":
        rope = FIXED_ROPE_TABLES * spec.head_dim
    norms = len(spec.final_layer.norms) + (0 if frozen else 1)  # each norm's input, the last one's normalised output
    final = norms * d * (FP32_BYTES if fp32_final else act) + (0 if frozen else d * act)
    prediction = spec.out_channels * spec.patch_pixels
    return {
        "patch_embed": 0 if frozen else visual * spec.in_channels * spec.patch_pixels * act,
        "caption_proj": 0 if frozen else caption * act,
        "rope_tables": visual * rope * FP32_BYTES,
        "final_layer": visual * final,
        "loss": LOSS_FP32_COPIES * visual * prediction * FP32_BYTES,
    }
