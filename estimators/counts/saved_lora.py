"""What a block saves for backward when LoRA trains adapters on its frozen weights (recompute none).

Autograd keeps a tensor only for a gradient it will compute (PyTorch saves a linear's input for its weight's
gradient, a product's operand for the other operand's gradient). With every base weight and modulation vector
frozen, a block keeps (counts/saved.py's parts, changed):
- norms: their input and statistics (for the input's gradient); no longer the normalised tensor a frozen
  modulation scale multiplies (fp32 in the classes that upcast), and their output only when an adapter reads it;
- attention: the kernel's q, k, v, output and log-sum-exp, a q/k norm's input (q and k depend on the input) and,
  an eager diffusers q/k norm, its fp32 input copy (its frozen scale keeps nothing: EAGER_QK_NORM_FROZEN_SCALE);
  the out-projection's copy of the output only when that projection carries an adapter; a learned RoPE's
  frozen frequencies keep nothing of q and k;
- gates: nothing (a frozen gate times the branch keeps the gate); a post-norm its input;
- MLP: the activation's input (and a gated MLP's operands), the second layer's input only when it is adapted;
- adapters: each targeted matrix's A keeps its input (the tensor above) and B the r-wide output of A.
Targets as counts/lora.py lists them. Checked at full size against diffusers' classes with adapters on
to_q to_k to_v to_out.0 (tests/test_training_modes.py).
"""
from __future__ import annotations

from estimators.counts.blocks import NORM_STATS_PER_ROW, SavedPerToken, _mlp_saved, joint_streams, mlp_first_width
from estimators.counts.lora import QKV, block_matrices
from estimators.counts.saved import (
    EAGER_QK_NORM_FROZEN_SCALE,
    FUSED,
    QK_ROWS_BY_PROJECTED,
    Implementation,
    _add,
    _per_token,
    attention_stats,
    block_saved_by,
    gated_output,
    outside_saved_bytes,
)
from estimators.specs.dit_blocks import AttentionOptions, CrossBlock, JointBlock, NormKind, VideoDiTSpec
from estimators.specs.training import Training
from estimators.units import FP32_BYTES


def frozen_norm(kind: NormKind, width: int, fp32: bool, read: bool, modulation_trained: bool, fp32_copy: bool = False) -> tuple[int, int]:
    """(activation, fp32) elements of a modulated norm before frozen matmuls: its input (fp32 where the class
    upcasts; plus the fp32 copy an eager diffusers RMSNorm's ``pow`` keeps, ``fp32_copy``), its output when an
    adapter reads it, and the normalised tensor the scale multiplies only when the modulation takes gradients
    (``modulation_trained``)."""
    normalised = int(modulation_trained)
    if kind == "none":
        return width * (normalised + int(read)), 0
    if fp32:
        return (width if read else 0), width * (1 + normalised)
    return width * (1 + normalised + int(read)), (width if fp32_copy else 0)


def frozen_gate(post_norm: NormKind, width: int, post_fp32: bool, residual_fp32: bool, modulation_trained: bool) -> tuple[int, int]:
    """A frozen gate keeps nothing of the branch (a trained one the branch, counts/saved.py gated_output); a post-norm
    keeps its input (and, the gate trained, its normalised output)."""
    if modulation_trained:
        return gated_output(post_norm, width, post_fp32, residual_fp32)
    if post_norm == "none":
        return 0, 0
    return (0, width) if post_fp32 else (width, 0)


def modulation_trained(spec: VideoDiTSpec, training: Training) -> bool:
    """The blocks' modulation vectors take gradients: all-linear adapts the modulation projections; and PEFT, matching
    target names by their ends, also adapts the to_q of a caption attention pooling that feeds the conditioning
    (Mochi's time_embed.pooler.to_q), so the conditioning, and every scale and gate, depend on trained weights."""
    return training.lora_targets == "all-linear" or bool(spec.conditioning.caption_pool_heads)


def frozen_attention(opts: AttentionOptions, attn: int, projected: int, copy_kept: bool, eager_qk: str = "none") -> tuple[int, int]:
    """The kernel's q/k/v (and query side its output), a q/k norm's input (and an eager diffusers one's fp32 copy),
    and the out-projection's copy when kept."""
    normed = QK_ROWS_BY_PROJECTED[projected] * attn if opts.qk_norm.kind != "none" else 0
    eager_act, eager_fp32 = EAGER_QK_NORM_FROZEN_SCALE[eager_qk]
    act = projected * attn + normed * (1 + eager_act)
    if projected != 2:
        act += attn * (2 if copy_kept else 1)
    return act, normed * eager_fp32


def frozen_mlp(mlp, adapted: bool) -> tuple[int, int]:
    """The MLP's activation input and operands; its second layer's input only when adapted."""
    return _mlp_saved(mlp) - (0 if adapted else mlp.hidden), 0


def lora_cross(spec: VideoDiTSpec, block: CrossBlock, impl: Implementation, training: Training) -> tuple[SavedPerToken, SavedPerToken]:
    d, heads, up = spec.width, spec.num_heads, impl.casts(block)
    mlp, trained = training.lora_targets == "all-linear", modulation_trained(spec, training)
    visual_matrices, text_matrices = block_matrices(spec, block, training.lora_targets)
    cross_norm = frozen_norm(block.cross_norm, d, up.cross_norm, True, False)  # not modulated
    gates = _add(frozen_gate("none", d, False, False, trained), frozen_gate("none", d, False, up.mlp_residual, trained))
    copy, qk = up.pre_norm_fp32_copy, up.qk_norms
    replicated = _add(frozen_norm(block.norm, d, up.norms, True, trained, copy), cross_norm, frozen_norm(block.norm, d, up.norms, mlp, trained, copy),
                      gates)
    split = _add(frozen_attention(block.attention, d, 3, impl.output_copy, qk), frozen_attention(block.cross_attention, d, 1, impl.output_copy, qk),
                 frozen_mlp(block.mlp, mlp), (training.lora_rank * len(visual_matrices), 0))
    norm_stats = 2 * NORM_STATS_PER_ROW[block.norm] + NORM_STATS_PER_ROW[block.cross_norm]
    head_stats = attention_stats(block.attention, heads, 3) + attention_stats(block.cross_attention, heads, 1)
    text_split = _add(frozen_attention(block.cross_attention, d, 2, False, qk), (training.lora_rank * len(text_matrices), 0))
    text = _per_token((0, 0), text_split, 0, attention_stats(block.cross_attention, heads, 2))
    return _per_token(replicated, split, norm_stats, head_stats), text


def lora_joint(spec: VideoDiTSpec, block: JointBlock, impl: Implementation, training: Training) -> tuple[SavedPerToken, SavedPerToken]:
    up, heads, a = impl.casts(block), spec.num_heads, spec.attn_width
    every, trained = training.lora_targets == "all-linear", modulation_trained(spec, training)
    out = []
    for index, (stream, matrices) in enumerate(zip(joint_streams(spec, block), block_matrices(spec, block, training.lora_targets))):
        w = stream.width
        adapted_attention = index == 0 or every  # the text stream's add_q_proj ... are not attention targets
        replicated = [frozen_norm(block.norm, w, up.norms, adapted_attention, trained, up.pre_norm_fp32_copy)]
        split = [frozen_attention(block.attention, a, QKV, impl.output_copy and adapted_attention and stream.updated, up.qk_norms),
                 (training.lora_rank * len(matrices), 0)]
        norm_stats = NORM_STATS_PER_ROW[block.norm]
        if stream.updated:
            gate = frozen_gate(block.post_norm, w, up.post_norms, False, trained)
            replicated += [gate, frozen_norm(block.norm, w, up.norms, every, trained, up.pre_norm_fp32_copy), gate]
            split.append(frozen_mlp(stream.mlp, every))
            norm_stats += NORM_STATS_PER_ROW[block.norm] + 2 * NORM_STATS_PER_ROW[block.post_norm]
        out.append(_per_token(_add(*replicated), _add(*split), norm_stats, attention_stats(block.attention, heads, QKV)))
    return out[0], out[1]


def lora_single(spec: VideoDiTSpec, block, impl: Implementation, training: Training) -> tuple[SavedPerToken, SavedPerToken]:
    d, heads, up = spec.width, spec.num_heads, impl.casts(block)
    every, trained = training.lora_targets == "all-linear", modulation_trained(spec, training)
    adapters = (training.lora_rank * len(block_matrices(spec, block, training.lora_targets)[0]), 0)
    # a class that concatenates the streams again hands q, k and v that copy: their adapters keep it, not the norm's output
    copies = (up.concat_copies * d, 0)
    read = not up.concat_copies
    gate = frozen_gate("none", d, False, False, trained)
    if block.parallel:
        gate_product = block.mlp.hidden if block.mlp.gated else 0
        fused_out = mlp_first_width(block.mlp) + gate_product + ((d + block.mlp.hidden) if every else 0)
        replicated = _add(frozen_norm(block.norm, d, up.norms, read or every, trained, up.pre_norm_fp32_copy), copies, gate)
        split = _add(frozen_attention(block.attention, d, QKV, False, up.qk_norms), (fused_out, 0), adapters)
        norm_stats = NORM_STATS_PER_ROW[block.norm]
    else:
        copy = up.pre_norm_fp32_copy
        replicated = _add(frozen_norm(block.norm, d, up.norms, read, trained, copy), copies, gate, frozen_norm(block.norm, d, up.norms, every, trained, copy),
                          gate)
        split = _add(frozen_attention(block.attention, d, QKV, impl.output_copy, up.qk_norms), frozen_mlp(block.mlp, every), adapters)
        norm_stats = 2 * NORM_STATS_PER_ROW[block.norm]
    one = _per_token(replicated, split, norm_stats, attention_stats(block.attention, heads, QKV))
    return one, one


def lora_block_saved(spec: VideoDiTSpec, block, impl: Implementation, training: Training) -> tuple[SavedPerToken, SavedPerToken]:
    """(visual, text) elements a token saves in one block under LoRA without recompute (module docstring)."""
    if isinstance(block, CrossBlock):
        return lora_cross(spec, block, impl, training)
    if isinstance(block, JointBlock):
        return lora_joint(spec, block, impl, training)
    return lora_single(spec, block, impl, training)


def saved_under(spec: VideoDiTSpec, block, recompute: str, implementation: str, training: Training | None) -> tuple[SavedPerToken, SavedPerToken]:
    """(visual, text) elements a token saves in one block under an implementation, a recompute mode and a training
    method: full training as counts/saved.py counts it; LoRA without recompute as above, with selective recompute
    the cached matmul outputs plus each adapter's r-wide output, with full recompute the block input either way."""
    if training is None or not training.lora or recompute == "full":
        return block_saved_by(spec, block, recompute, implementation)
    if recompute == "selective":
        visual, text = block_saved_by(spec, block, recompute, implementation)
        matrices = block_matrices(spec, block, training.lora_targets)
        single = not isinstance(block, (CrossBlock, JointBlock))
        extra = (len(matrices[0]), len(matrices[0] if single else matrices[1]))
        return tuple(SavedPerToken(s.activation + training.lora_rank * n, s.stats, s.replicated, s.replicated_stats)
                     for s, n in zip((visual, text), extra))
    impl = FUSED.get(implementation) or Implementation(implementation, upcasts=False, output_copy=block.attention.output_copied)
    return lora_block_saved(spec, block, impl, training)


def model_saved_bytes(spec: VideoDiTSpec, visual: int, text: int, implementation: str, recompute: str, activation_bytes: int,
                      training: Training | None = None) -> dict[str, float]:
    """Bytes one sample saves for backward in the whole model: each block group, and the parts outside."""
    parts = {}
    for index, group in enumerate(spec.blocks):
        v, t = saved_under(spec, group, recompute, implementation, training)
        per_block = visual * (v.activation * activation_bytes + v.stats * FP32_BYTES) + text * (t.activation * activation_bytes + t.stats * FP32_BYTES)
        parts[f"blocks{index}_{group.kind}"] = group.count * per_block
    frozen = training is not None and training.lora
    return {**parts, **outside_saved_bytes(spec, visual, text, implementation, activation_bytes, frozen)}
