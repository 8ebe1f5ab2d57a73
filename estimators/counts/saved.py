"""Saved activations of Mochi's asymmetric dual-stream block, per token (plain PyTorch with flash attention)."""
from __future__ import annotations

from dataclasses import dataclass

from estimators.specs.models import AsymmDiTSpec


@dataclass(frozen=True)
class StreamWidths:
    """Widths that set a stream's saved tensors: model width d, attention width a, MLP hidden f."""

    width: int
    attn: int
    mlp_hidden: int
    heads: int
    rope: bool
    updates: bool
    gated: bool = True  # SwiGLU (first layer 2f wide) rather than GELU (f)


def saved_elements_per_token(s: StreamWidths, recompute: str) -> tuple[int, int]:
    """(activation-dtype elements, fp32-statistics elements) one token of one stream leaves for backward
    in one block of a plain PyTorch Mochi block with flash attention (reference_model/dit.py; checked
    against torch.autograd.graph.saved_tensors_hooks in tests/test_profiling.py).

    none, a stream that is updated:
      d-wide: block input, RMSNorm out, modulated qkv input, out-proj output, its RMSNorm, residual sum,
        2nd RMSNorm out, modulated MLP input, MLP output, its RMSNorm = 10 d
      a-wide: the fused qkv output 3a (q, k, v are views of it); q/k RMSNorm before its learned scale 2a;
        q/k after it 2a, kept for RoPE (none without RoPE: they go straight into the joint concat);
        joint q, k, v for flash attention 3a; attention output a; its contiguous copy for the
        out-projection a = 12 a with RoPE, 10 a without
      f-wide: SwiGLU first-layer output 2f, silu output f, w2 input f = 4 f (GELU: its input and output, 2f)
      fp32: RMSNorm rstd x4, q/k-norm rstd per head x2, flash log-sum-exp per head
    A stream that is not updated (Mochi's last text stream): input, norm, modulated input 3 d, and the
      attention part without RoPE 10 a.
    selective: PyTorch selective activation checkpointing that saves the outputs of matmuls and of flash
      attention and recomputes every element-wise op: block input d, qkv 3a, attention output a and
      log-sum-exp, out-proj output d, MLP first-layer output 2f (GELU: f), MLP output d = 3d + 4a + 2f.
    full: only the block input d (the block is re-run in backward).
    """
    d, a, f = s.width, s.attn, s.mlp_hidden
    mlp_first = 2 * f if s.gated else f
    if recompute == "full":
        return d, 0
    if recompute == "selective":
        return (3 * d + 4 * a + mlp_first, s.heads) if s.updates else (d + 4 * a, s.heads)
    attention = 3 * a + 2 * a + (2 * a if s.rope else 0) + 3 * a + a + a
    if not s.updates:
        return 3 * d + attention, 1 + 3 * s.heads
    return 10 * d + attention + 2 * mlp_first, 4 + 3 * s.heads


def dit_streams(spec: AsymmDiTSpec) -> tuple[StreamWidths, StreamWidths]:
    """The visual and text streams of a block (text = visual widths when the stream is shared)."""
    gated = spec.mlp_activation == "swiglu"
    visual = StreamWidths(spec.visual_width, spec.attn_width, spec.mlp_hidden(spec.visual_width), spec.num_heads, spec.learned_rope, True, gated)
    if spec.text_stream == "shared":
        return visual, visual
    text = StreamWidths(spec.text_width, spec.attn_width, spec.mlp_hidden(spec.text_width), spec.num_heads, False, True, gated)
    return visual, text
