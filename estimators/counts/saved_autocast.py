"""What diffusers' classes save for backward when they run under CUDA autocast (implementation ``diffusers-autocast``):
accelerate's ``Accelerator(mixed_precision="bf16" | "fp16")`` wraps the model's forward in ``torch.autocast``
(accelerate Accelerator.prepare_model, native AMP), as cogvideox-factory's and diffusers' training scripts run.

Autocast runs ``layer_norm`` in fp32 (torch.amp docs, "CUDA Ops that can autocast to float32": layer_norm,
group_norm, ...) and every matmul on a low-precision copy of its input ("... to float16": linear, matmul, and
scaled_dot_product_attention), caching copies only of leaf tensors (the weights), not of activations. So a LayerNorm
the class does not already upcast itself (Fp32Upcasts) changes what its block saves, per token (w its width):
- the norm keeps its fp32 input copy (w fp32, was w in the activation dtype);
- its output stays fp32: the modulation's product keeps that fp32 normalised tensor when the scale takes gradients
  (w fp32, was w), and each matmul that reads the output and keeps its input for a weight gradient keeps its own
  low-precision cast (one w each: q, k and v three, was one shared tensor); under LoRA only the adapters' A keep it;
- a LayerNorm on q and k keeps fp32 inputs (its rows of the attention width, fp32 instead of the activation dtype);
  its fp32 output is cast again for the attention kernel, which keeps q, k, v as before.
RMSNorms are left as the base implementation counts them (diffusers' RMSNorm upcasts its variance itself; pow and
rsqrt on fp32 change nothing). Checked on one CogVideoX block at full width against autocast's op policy
(tests/test_autocast_saved.py): +16 w bytes a token in full training, +12 w under LoRA on the attention.
"""
from __future__ import annotations

from estimators.counts.blocks import QK_ROWS_BY_PROJECTED, SavedPerToken, joint_streams
from estimators.counts.saved import pre_norm
from estimators.counts.saved_lora import frozen_norm, modulation_trained, saved_under
from estimators.specs.dit_blocks import CrossBlock, JointBlock, VideoDiTSpec
from estimators.specs.training import Training

AUTOCAST_BASE = {"diffusers-autocast": "diffusers"}  # implementation under autocast -> the eager one it changes
LAYER_NORMS = ("layer", "layer_affine")  # autocast's fp32 list: layer_norm
QKV_READERS = 3  # q, k and v projections read a self-attention's normed input (attention-target LoRA adapts all three)


def _norm_change(kind: str, width: int, class_upcasts: bool, readers: int, keepers: int, trained_scale: bool,
                 lora: bool) -> tuple[int, int]:
    """(activation, fp32) elements a token saves more under autocast at one modulated pre-norm feeding ``readers``
    matmuls of which ``keepers`` keep their input (all in full training; the adapted ones under LoRA)."""
    if kind not in LAYER_NORMS or class_upcasts:
        return 0, 0
    if lora:
        base = frozen_norm(kind, width, False, keepers > 0, trained_scale)
    else:
        base = pre_norm(kind, True, width, False)
    autocast = (keepers * width, width * (1 + int(trained_scale)))
    return autocast[0] - base[0], autocast[1] - base[1]


def _qk_change(opts, attn: int, projected: int) -> tuple[int, int]:
    rows = QK_ROWS_BY_PROJECTED[projected] * attn if opts.qk_norm.kind in LAYER_NORMS else 0
    return -rows, rows


Change = tuple[tuple[int, int], tuple[int, int]]  # ((activation, fp32) in all, (activation, fp32) outside the TP regions)


def _change(norms: list[tuple[int, int]], qk: list[tuple[int, int]]) -> Change:
    """Norm changes lie outside the tensor-parallel regions (replicated), q/k norm changes inside (split by heads)."""
    replicated = (sum(n[0] for n in norms), sum(n[1] for n in norms))
    return (replicated[0] + sum(q[0] for q in qk), replicated[1] + sum(q[1] for q in qk)), replicated


def autocast_change(spec: VideoDiTSpec, block, training: Training | None) -> tuple[Change, Change]:
    """(visual, text) elements a token saves more under autocast, recompute none. A cross block's unmodulated cross-
    attention norm is left out: the presets' is upcast by the class (Wan FP32LayerNorm) or absent (LTX-Video)."""
    lora = training is not None and training.lora
    every = (not lora) or training.lora_targets == "all-linear"
    trained = (not lora) or modulation_trained(spec, training)
    up = block.diffusers_fp32
    if isinstance(block, CrossBlock):
        d = spec.width
        norms = [_norm_change(block.norm, d, up.norms, QKV_READERS, QKV_READERS, trained, lora),
                 _norm_change(block.norm, d, up.norms, 1, int(every), trained, lora)]
        visual = _change(norms, [_qk_change(block.attention, d, 3), _qk_change(block.cross_attention, d, 1)])
        return visual, _change([], [_qk_change(block.cross_attention, d, 2)])
    if isinstance(block, JointBlock):
        out = []
        for index, stream in enumerate(joint_streams(spec, block)):
            w, adapted = stream.width, index == 0 or every  # the text stream's add_q_proj ... are not attention targets
            norms = [_norm_change(block.norm, w, up.norms, QKV_READERS, QKV_READERS if adapted else 0, trained, lora)]
            if stream.updated:
                norms.append(_norm_change(block.norm, w, up.norms, 1, int(every), trained, lora))
            out.append(_change(norms, [_qk_change(block.attention, spec.attn_width, 3)]))
        return out[0], out[1]
    d = spec.width
    if block.parallel:  # one norm feeds q, k, v and the MLP's first layer
        norms = [_norm_change(block.norm, d, up.norms, QKV_READERS + 1, QKV_READERS + int(every), trained, lora)]
    else:
        norms = [_norm_change(block.norm, d, up.norms, QKV_READERS, QKV_READERS, trained, lora),
                 _norm_change(block.norm, d, up.norms, 1, int(every), trained, lora)]
    one = _change(norms, [_qk_change(block.attention, d, 3)])
    return one, one


def _plus(saved: SavedPerToken, change: Change) -> SavedPerToken:
    (act, fp32), (rep_act, rep_fp32) = change
    return SavedPerToken(saved.activation + act, saved.stats + fp32, saved.replicated + rep_act, saved.replicated_stats + rep_fp32)


def saved_with_autocast(spec: VideoDiTSpec, block, recompute: str, implementation: str,
                        training: Training | None = None) -> tuple[SavedPerToken, SavedPerToken]:
    """counts/saved_lora.py saved_under, plus autocast's change for an implementation that runs under it. Selective and
    full recompute keep the block's checkpointed tensors, which autocast leaves in the activation dtype."""
    base = AUTOCAST_BASE.get(implementation)
    if base is None:
        return saved_under(spec, block, recompute, implementation, training)
    visual, text = saved_under(spec, block, recompute, base, training)
    if recompute != "none":
        return visual, text
    change = autocast_change(spec, block, training)
    return _plus(visual, change[0]), _plus(text, change[1])

