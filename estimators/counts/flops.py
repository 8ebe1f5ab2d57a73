"""Exact forward FLOPs of each model for one sample, 2 FLOPs per multiply-add.

Counted like ``torch.utils.flop_counter.FlopCounterMode``: matmuls, convolutions and attention
score/value products; biases, norms and element-wise ops are not counted (they are memory-bound and
priced by bytes in the time model). Attention is counted in full S^2 both for the DiT (bidirectional)
and for the VAE's causal temporal attention (SDPA computes the full product), never halved.

Sources: matmul 2mkn (formulas.md); attention 4 s^2 d a layer (Korthikanti et al. 2022, sec. 4.1,
without the causal halving); shapes as in params.py.
"""
from __future__ import annotations

from estimators.counts.params import ROPE_AXES, SWIGLU_HALVES
from estimators.specs.models import AsymmDiTSpec, GPTSpec

FLOPS_PER_MAC = 2
# Attention per layer: QK^T and AV, each 2 s_q s_k d.
ATTENTION_MATMULS = 2


def matmul_flops(rows: int, d_in: int, d_out: int) -> int:
    """(rows x d_in) @ (d_in x d_out)."""
    return FLOPS_PER_MAC * rows * d_in * d_out


def attention_flops(q_len: int, k_len: int, width: int, batch: int = 1) -> int:
    """Score and value products of softmax attention over all heads (width = heads x head_dim)."""
    return ATTENTION_MATMULS * FLOPS_PER_MAC * batch * q_len * k_len * width


def mlp_flops(tokens: int, width: int, hidden: int, activation: str) -> int:
    """SwiGLU: width -> 2 hidden -> width; GELU: width -> hidden -> width."""
    halves = SWIGLU_HALVES if activation == "swiglu" else 1
    return matmul_flops(tokens, width, halves * hidden) + matmul_flops(tokens, hidden, width)


def dit_block_flops(spec: AsymmDiTSpec, visual: int, text: int, last: bool) -> dict[str, int]:
    """One block for one sample of ``visual`` + ``text`` tokens; modulation is per sample, not per token."""
    dx, dy, da = spec.visual_width, spec.text_width, spec.attn_width
    updates_text = spec.last_block_updates_text or not last
    text_mods = spec.text_modulation_outputs if updates_text else spec.last_block_text_modulation_outputs
    shared = spec.text_stream == "shared"
    # With a shared stream the text tokens run through the visual weights.
    visual_rows = visual + (text if shared else 0)
    text_rows = 0 if shared else text
    text_out_rows = text_rows if updates_text else 0
    return {
        "modulation": matmul_flops(1, spec.cond_width, spec.modulation_outputs * dx + text_mods * dy),
        "attention": attention_flops(visual + text, visual + text, da),
        "linear_visual": matmul_flops(visual_rows, dx, 3 * da)
        + matmul_flops(visual_rows, da, dx)
        + mlp_flops(visual_rows, dx, spec.mlp_hidden(dx), spec.mlp_activation),
        "linear_text": matmul_flops(text_rows, dy, 3 * da)
        + matmul_flops(text_out_rows, da, dy)
        + mlp_flops(text_out_rows, dy, spec.mlp_hidden(dy), spec.mlp_activation),
    }


def dit_forward_flops(spec: AsymmDiTSpec, visual: int, text: int) -> dict[str, int]:
    """Whole DiT forward for one sample: blocks by kind of work, plus embedders and final layer.

    ``text`` is the number of valid caption tokens: the joint attention and the text stream see only
    those (padding is dropped, not masked). The caption pooling and projection run on the padded
    T5 output of ``max_text_tokens`` rows (mochi-architecture.md: the unconditional pass, text = 0,
    still pools and projects 256 padded rows).
    """
    totals = {"attention": 0, "linear_visual": 0, "linear_text": 0, "modulation": 0}
    for index in range(spec.num_layers):
        block = dit_block_flops(spec, visual, text, last=index == spec.num_layers - 1)
        for key, value in block.items():
            totals[key] += value
    t5, dx = spec.text_feature_dim, spec.visual_width
    patch_pixels = spec.patch_size**2 * spec.patch_size_t
    pool = 0
    if spec.attn_pool_heads:
        # The pooled mean is prepended as a query token: keys/values over padded text + 1 rows.
        pooled = spec.max_text_tokens + 1
        pool = (
            matmul_flops(pooled, t5, 2 * t5)
            + matmul_flops(1, t5, t5)
            + attention_flops(1, pooled, t5)
            + matmul_flops(1, t5, spec.cond_width)
        )
    embeddings = (
        matmul_flops(visual, spec.in_channels * patch_pixels, dx)
        + matmul_flops(1, spec.timestep_freq_dim, spec.cond_width)
        + matmul_flops(1, spec.cond_width, spec.cond_width)
        + pool
        + matmul_flops(spec.max_text_tokens, t5, spec.text_width)
        # learned RoPE: positions (N, 3) @ frequencies (3, heads x head_dim/2)
        + (matmul_flops(visual, ROPE_AXES, spec.num_heads * spec.head_dim // 2) if spec.learned_rope else 0)
    )
    totals["embeddings"] = embeddings
    totals["final_layer"] = matmul_flops(1, spec.cond_width, spec.final_modulation_outputs * dx) + matmul_flops(
        visual, dx, spec.out_channels * patch_pixels
    )
    return totals


def gpt_forward_flops(spec: GPTSpec, causal_attention: bool = False) -> dict[str, int]:
    """GPT forward for one sequence of seq_len tokens (Narayanan et al. 2021, eq. 3 terms, GQA aware).

    ``causal_attention`` halves the score/value products as Megatron's counter does; the calibration
    file's MFUs count the full s^2 term, so full is the default.
    """
    s, h = spec.seq_len, spec.hidden_size
    kv_width = h // spec.num_heads * spec.num_kv_heads
    mlp_mats = 3 if spec.gated_mlp else 2
    per_layer_linear = matmul_flops(s, h, 2 * h + 2 * kv_width) + mlp_mats * matmul_flops(s, h, spec.ffn_hidden_size)
    attention = attention_flops(s, s, h) // (2 if causal_attention else 1)
    return {
        "linear": spec.num_layers * per_layer_linear,
        "attention": spec.num_layers * attention,
        "logits": matmul_flops(s, h, spec.vocab_size),
    }
