"""What a training implementation saves for backward: per block kind, per recompute mode, per dtype, and
outside the blocks (embedders, RoPE tables, final layer, loss).

Three implementations, a named property of the training stack (data/stacks/stacks.yaml
``saved_activations``):
- ``pytorch-reference``: plain PyTorch modules with flash attention, the reference model's convention
  (blocks.block_saved; checked in tests/test_profiling.py and tests/test_block_memory.py).
- ``diffusers``: diffusers' transformer classes run eagerly (FSDP2 wraps them unchanged) with fused
  attention (flash/cuDNN: q, k, v, output and an fp32 log-sum-exp a head) and a fused RMSNorm (its input,
  scale and fp32 rstd), with the fp32 upcasts each class performs (Fp32Upcasts in specs/dit_blocks.py).
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

IMPLEMENTATIONS = ("pytorch-reference", "diffusers", "megatron-te")
NO_UPCASTS = Fp32Upcasts()
# Learned RoPE in fp32 outside the blocks, per visual token, in attention widths: the angles (a/2) and
# their cosine and sine (a/2 each, broadcast over the batch): diffusers MochiRoPE (torch.cos/sin of
# positions @ frequencies, the frequencies learned, so autograd keeps the angles and both tables).
LEARNED_ROPE_TABLE_WIDTHS = 1.5
FIXED_ROPE_TABLES = 2  # cosine and sine of one head's width, fp32, shared by every head and block
LOSS_FP32_COPIES = 2  # F.mse_loss(prediction.float(), target.float()) keeps both fp32 copies


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


def pre_norm(kind: NormKind, modulated: bool, width: int, fp32: bool) -> tuple[int, int]:
    """(activation, fp32) elements of a norm before a matmul, the matmul's input included.

    fp32: the norm keeps its fp32 input, the modulation's product the fp32 normalised tensor (modulated),
    and the cast-back output is the matmul's input. Otherwise blocks._norm_saved: input, normalised (when
    modulated) and the matmul's input, or only the matmul's input without a norm."""
    if fp32 and kind != "none":
        return width, (1 + int(modulated)) * width
    return _norm_saved(kind, modulated, width), 0


def gated_output(post_norm: NormKind, width: int, post_fp32: bool, residual_fp32: bool) -> tuple[int, int]:
    """(activation, fp32) elements of a sublayer's gated residual: the gate's product keeps the sublayer's output
    (fp32 copy when the residual add runs in fp32); a post-norm keeps its input and its normalised output
    (Mochi: both fp32, the gate folded into the norm's scale)."""
    if post_norm != "none":
        return (0, 2 * width) if post_fp32 else (2 * width, 0)
    return (0, width) if residual_fp32 else (width, 0)


def attention(opts: AttentionOptions, attn: int, projected: int, impl: Implementation, learned_rope_fp32: bool = False,
              copy: bool | None = None) -> tuple[int, int]:
    """(activation, fp32) a-wide elements of an attention for one token of ``projected`` q/k/v (3 self, 1 query
    side, 2 key/value side): a fused q/k norm keeps its input (the projection); the kernel keeps its q, k, v and,
    query side, its output, and the out-projection a copy of it (``copy``); a learned RoPE upcast to fp32 keeps
    the even and odd halves of q and k (diffusers MochiAttnProcessor2_0 apply_rotary_emb)."""
    qk_rows = QK_ROWS_BY_PROJECTED[projected]
    query_side = projected != 2
    copy = impl.output_copy if copy is None else copy
    act = projected * attn + (qk_rows * attn if opts.qk_norm.kind != "none" else 0)
    if query_side:
        act += attn * (2 if copy else 1)
    return act, (qk_rows * attn if learned_rope_fp32 else 0)


def attention_stats(opts: AttentionOptions, heads: int, projected: int) -> int:
    """fp32 statistics: q/k norms, and the log-sum-exp per head on the query side."""
    return _qk_stats(opts, heads, QK_ROWS_BY_PROJECTED[projected]) + (heads if projected != 2 else 0)


def _per_token(parts: tuple[int, int], stats: int) -> SavedPerToken:
    return SavedPerToken(parts[0], parts[1] + stats)


def cross_saved(spec: VideoDiTSpec, block: CrossBlock, impl: Implementation) -> tuple[SavedPerToken, SavedPerToken]:
    """Cross block (Wan, LTX): norm, self-attention, gate; cross norm and cross-attention (no gate); norm, MLP, gate.
    Text tokens: the cross-attention's key side (k norm input, k, v)."""
    d, heads, up = spec.width, spec.num_heads, impl.casts(block)
    learned = up.norms and spec.rope == "learned_3d"
    if block.cross_norm != "none" and up.cross_norm:
        cross_norm = (d, d)  # fp32 input, cast-back matmul input (Wan norm2)
    else:
        cross_norm = pre_norm(block.cross_norm, False, d, False)
    visual = _add(
        pre_norm(block.norm, True, d, up.norms), attention(block.attention, d, 3, impl, learned), gated_output("none", d, False, False),
        cross_norm, attention(block.cross_attention, d, 1, impl),
        pre_norm(block.norm, True, d, up.norms), (_mlp_saved(block.mlp), 0), gated_output("none", d, False, up.mlp_residual),
    )
    norm_stats = 2 * NORM_STATS_PER_ROW[block.norm] + NORM_STATS_PER_ROW[block.cross_norm]
    stats = norm_stats + attention_stats(block.attention, heads, 3) + attention_stats(block.cross_attention, heads, 1)
    return _per_token(visual, stats), _per_token(attention(block.cross_attention, d, 2, impl), attention_stats(block.cross_attention, heads, 2))


def joint_saved(spec: VideoDiTSpec, block: JointBlock, impl: Implementation) -> tuple[SavedPerToken, SavedPerToken]:
    """Joint block (Mochi, HunyuanVideo double): each stream its norm, its rows of the joint attention, gate
    or post-norm, norm, MLP, gate or post-norm; a stream the block does not update only its norm and attention."""
    up, heads, a = impl.casts(block), spec.num_heads, spec.attn_width
    out = []
    for stream in joint_streams(spec, block):
        w = stream.width
        learned = up.norms and stream.rope == "learned_3d"
        parts = [pre_norm(block.norm, True, w, up.norms), attention(block.attention, a, 3, impl, learned)]
        stats = NORM_STATS_PER_ROW[block.norm] + attention_stats(block.attention, heads, 3)
        if stream.updated:
            gate = gated_output(block.post_norm, w, up.post_norms, False)
            parts += [gate, pre_norm(block.norm, True, w, up.norms), (_mlp_saved(stream.mlp), 0), gate]
            stats += NORM_STATS_PER_ROW[block.norm] + 2 * NORM_STATS_PER_ROW[block.post_norm]
        out.append(_per_token(_add(*parts), stats))
    return out[0], out[1]


def single_saved(spec: VideoDiTSpec, block, impl: Implementation) -> tuple[SavedPerToken, SavedPerToken]:
    """Single block, every token alike. Sequential (CogVideoX): norm, attention, gate, norm, MLP, gate. Parallel
    (HunyuanVideo): one norm; attention without its own out-projection; the MLP's first-layer output (and the
    activation a gated product needs); the concatenated [attention, MLP activation] input of the fused
    out-projection (d + f); its gated output. Plus the copies a class makes by concatenating the streams again."""
    d, heads, up = spec.width, spec.num_heads, impl.casts(block)
    norm = pre_norm(block.norm, True, d, up.norms)
    copies = (up.concat_copies * d, 0)
    if block.parallel:
        gate_product = block.mlp.hidden if block.mlp.gated else 0
        fused_out = (mlp_first_width(block.mlp) + gate_product + d + block.mlp.hidden, 0)
        parts = _add(norm, copies, attention(block.attention, d, 3, impl, copy=False), fused_out, gated_output("none", d, False, False))
        stats = NORM_STATS_PER_ROW[block.norm] + attention_stats(block.attention, heads, 3)
    else:
        gate = gated_output("none", d, False, False)
        parts = _add(norm, copies, attention(block.attention, d, 3, impl), gate, pre_norm(block.norm, True, d, up.norms),
                     (_mlp_saved(block.mlp), 0), gate)
        stats = 2 * NORM_STATS_PER_ROW[block.norm] + attention_stats(block.attention, heads, 3)
    one = _per_token(parts, stats)
    return one, one


def block_saved_by(spec: VideoDiTSpec, block, recompute: str, implementation: str) -> tuple[SavedPerToken, SavedPerToken]:
    """(visual, text) elements a token saves in one block under an implementation and recompute mode."""
    if implementation == "pytorch-reference" or recompute != "none":
        return block_saved(spec, block, recompute)
    impl = FUSED[implementation]
    if isinstance(block, CrossBlock):
        return cross_saved(spec, block, impl)
    if isinstance(block, JointBlock):
        return joint_saved(spec, block, impl)
    return single_saved(spec, block, impl)


def outside_saved_bytes(spec: VideoDiTSpec, visual: int, text: int, implementation: str, activation_bytes: int) -> dict[str, float]:
    """Bytes one sample saves outside the blocks, by part (the busiest stage holds them: embedders on the first,
    final layer and loss on the last, RoPE tables on every stage that rotates).

    patch_embed: the patchified latent, the embedding's input. caption_proj: the caption features (and, for an
    MLP projection, its hidden pre-activation and activation). rope_tables: fp32 cosine and sine tables a visual
    token (learned RoPE: also the angles; LEARNED_ROPE_TABLE_WIDTHS). final_layer: each norm's input and, for the
    modulated last norm, its normalised output (fp32 where the class upcasts), and the projection's input.
    loss: the fp32 copies of prediction and target. Left out (each under 0.01% of a preset's total): per-sample
    conditioning MLPs, the caption pooling and HunyuanVideo's token refiner on the caption rows.
    """
    act, d = activation_bytes, spec.width
    fp32_final = spec.final_layer.diffusers_fp32 and implementation == "diffusers"
    caption = caption_rows(spec, text) * (spec.text_feature_dim + (2 * spec.text_stream_width if spec.caption_projection == "mlp" else 0))
    rope = 0.0
    if spec.rope == "learned_3d":
        rope = LEARNED_ROPE_TABLE_WIDTHS * spec.attn_width
    elif spec.rope == "fixed_3d":
        rope = FIXED_ROPE_TABLES * spec.head_dim
    norms = len(spec.final_layer.norms) + 1  # each norm's input, the last one's normalised output
    final = norms * d * (FP32_BYTES if fp32_final else act) + d * act
    prediction = spec.out_channels * spec.patch_pixels
    return {
        "patch_embed": visual * spec.in_channels * spec.patch_pixels * act,
        "caption_proj": caption * act,
        "rope_tables": visual * rope * FP32_BYTES,
        "final_layer": visual * final,
        "loss": LOSS_FP32_COPIES * visual * prediction * FP32_BYTES,
    }


def model_saved_bytes(spec: VideoDiTSpec, visual: int, text: int, implementation: str, recompute: str, activation_bytes: int) -> dict[str, float]:
    """Bytes one sample saves for backward in the whole model: each block group, and the parts outside."""
    parts = {}
    for index, group in enumerate(spec.blocks):
        v, t = block_saved_by(spec, group, recompute, implementation)
        per_block = visual * (v.activation * activation_bytes + v.stats * FP32_BYTES) + text * (t.activation * activation_bytes + t.stats * FP32_BYTES)
        parts[f"blocks{index}_{group.kind}"] = group.count * per_block
    return {**parts, **outside_saved_bytes(spec, visual, text, implementation, activation_bytes)}
