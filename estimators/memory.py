"""Memory per GPU: model states, activations, frozen encoders, allocator overhead.

Sources: mixed-precision Adam model states 16 bytes/param and ZeRO sharding (Rajbhandari et al. 2020,
ZeRO, sec. 3.1 and 5); activation accounting in the style of Korthikanti et al. 2022 (Table 2), with the
DiT block's own saved tensors derived below (flash attention: no s^2 scores are stored); 1F1B in-flight
micro-batches (Narayanan et al. 2021, sec. 2.2.1) and the interleaved-schedule factor
1 + (p-1)/(p v) (Korthikanti et al. 2022, sec. 4.2.3).
"""
from __future__ import annotations

from dataclasses import dataclass

from estimators.specs.layout import Layout
from estimators.specs.models import AsymmDiTSpec

BF16_BYTES = 2
FP32_BYTES = 4
# Mixed-precision AdamW (ZeRO sec. 3.1): bf16 weights 2 + bf16 grads 2 + fp32 master, m, v 12.
WEIGHT_BYTES_PER_PARAM = BF16_BYTES
GRAD_BYTES_PER_PARAM = BF16_BYTES
OPTIMIZER_BYTES_PER_PARAM = 3 * FP32_BYTES
# Planning assumptions, not measurements: CUDA context + NCCL buffers, and caching-allocator
# fragmentation as a share of everything else. Stated in the plan's assumptions block.
RUNTIME_RESERVED_BYTES = 2 * 1024**3
FRAGMENTATION_FRACTION = 0.10
# Live activation tensors of a frozen conv encoder at its widest stage during a no-grad forward:
# the block input, one intermediate and the output (no autograd graph is kept).
FROZEN_ENCODER_LIVE_TENSORS = 3


@dataclass(frozen=True)
class StreamWidths:
    """Widths that set a stream's saved tensors: model width d, attention width a, MLP hidden f."""

    width: int
    attn: int
    mlp_hidden: int
    heads: int
    rope: bool
    updates: bool


def saved_elements_per_token(s: StreamWidths, recompute: str) -> tuple[int, int]:
    """(bf16 elements, fp32 elements) one token of one stream leaves for backward in one block.

    No recompute, per token (Mochi block, flash attention):
      d-wide: block input, RMSNorm out, modulated qkv input, out-proj output, its RMSNorm, residual sum,
        2nd RMSNorm out, modulated MLP input, MLP output, its RMSNorm = 10 d
      a-wide: raw q,k (for the q/k norms) 2a, normed q,k (for RoPE) 2a if RoPE, joint q,k,v for flash
        attention 3a, attention output a = 8a with RoPE, 6a without
      f-wide: SwiGLU halves (silu input, silu out, gate) 3f, w2 input f = 4f (GELU: input + out = 2f)
      fp32: RMSNorm rstd x4, q/k-norm rstd per head x2, flash log-sum-exp per head
    A stream that is not updated (Mochi's last text stream) keeps only norm1, qkv and q/k norms.
    Selective: element-wise ops (norms, modulation, RoPE, activation) are recomputed, matmul and flash
      inputs/outputs kept: input d, raw q,k + v + attention output 4a, out-proj output d, residual d,
      MLP first-layer output 2f, MLP output d = 4d + 4a + 2f (matmul FLOPs are not recomputed).
    Full: only the block input d is kept (the block is re-run in backward).
    """
    d, a, f = s.width, s.attn, s.mlp_hidden
    if recompute == "full":
        return d, 0
    if recompute == "selective":
        return (4 * d + 4 * a + 2 * f, 0) if s.updates else (d + 3 * a, 0)
    qk = (6 if s.rope else 4) * a + 2 * a  # raw q,k (+ normed q,k) + joint q,k,v + output
    if not s.updates:
        return 3 * d + 2 * a + 3 * a, 2 + 2 * s.heads
    return 10 * d + qk + 4 * f, 4 + 3 * s.heads


def dit_streams(spec: AsymmDiTSpec) -> tuple[StreamWidths, StreamWidths]:
    """The visual and text streams of a block (text = visual widths when the stream is shared)."""
    visual = StreamWidths(spec.visual_width, spec.attn_width, spec.mlp_hidden(spec.visual_width), spec.num_heads, spec.learned_rope, True)
    if spec.text_stream == "shared":
        return visual, visual
    text = StreamWidths(spec.text_width, spec.attn_width, spec.mlp_hidden(spec.text_width), spec.num_heads, False, True)
    return visual, text


def dit_activation_bytes_per_layer(spec: AsymmDiTSpec, visual: float, text: float, recompute: str) -> float:
    """Bytes one block saves for backward for ``visual`` and ``text`` tokens (already split by tp/cp)."""
    total = 0.0
    for stream, tokens in zip(dit_streams(spec), (visual, text)):
        bf16, fp32 = saved_elements_per_token(stream, recompute)
        total += tokens * (bf16 * BF16_BYTES + fp32 * FP32_BYTES)
    return total


def dit_layer_working_bytes(spec: AsymmDiTSpec, visual: float, text: float) -> float:
    """Extra bytes while one block runs its backward under full recompute: its full activations."""
    return dit_activation_bytes_per_layer(spec, visual, text, "none")


def in_flight_microbatches(layout: Layout, num_microbatches: int) -> float:
    """Micro-batches whose activations the first pipeline stage holds at the 1F1B peak.

    1F1B: min(p, m); interleaved with v chunks: p (1 + (p-1)/(p v)) scaled the same way
    (Korthikanti et al. 2022, sec. 4.2.3).
    """
    if layout.pp == 1:
        return 1.0
    held = min(layout.pp, num_microbatches)
    if layout.vpp > 1:
        held *= 1 + (layout.pp - 1) / (layout.pp * layout.vpp)
    return float(held)


def model_state_bytes(params: float, layout: Layout) -> dict[str, float]:
    """Weights, gradients and AdamW states on one GPU; ZeRO shards over the dp x cp group.

    ``params`` is the trained model's count; tp and pp split it evenly (every matrix of the DiT is
    split by tp; embedders are < 1% and placed with the first stage).
    """
    local = params / (layout.tp * layout.pp)
    shard = layout.dp * layout.cp
    return {
        "weights": local * WEIGHT_BYTES_PER_PARAM / (shard if layout.zero >= 3 else 1),
        "gradients": local * GRAD_BYTES_PER_PARAM / (shard if layout.zero >= 2 else 1),
        "optimizer_states": local * OPTIMIZER_BYTES_PER_PARAM / (shard if layout.zero >= 1 else 1),
    }


def with_overhead(parts: dict[str, float]) -> dict[str, float]:
    """Adds the runtime reservation and allocator fragmentation, returns parts with 'total'."""
    subtotal = sum(parts.values())
    out = dict(parts)
    out["runtime_reserved"] = float(RUNTIME_RESERVED_BYTES)
    out["fragmentation"] = FRAGMENTATION_FRACTION * subtotal
    out["total"] = sum(out.values())
    return out
