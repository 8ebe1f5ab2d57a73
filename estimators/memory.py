"""Memory constants and the DiT block's saved tensors (the per-GPU sum is in step.memory_bytes).

Sources: mixed-precision Adam model states 16 bytes/param (Rajbhandari et al. 2020, ZeRO, sec. 3.1);
activation accounting in the style of Korthikanti et al. 2022 (Table 2), with the DiT block's own saved
tensors derived below (flash attention: no s^2 scores are stored).
"""
from __future__ import annotations

from dataclasses import dataclass

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
