"""Exact forward FLOPs of each model for one sample, 2 FLOPs per multiply-add.

Counted like ``torch.utils.flop_counter.FlopCounterMode``: matmuls, convolutions and attention
score/value products; biases, norms and element-wise ops are not counted (they are memory-bound and
priced by bytes in the time model). Attention is counted in full S^2 both for the DiT (bidirectional)
and for the VAE's causal temporal attention (SDPA computes the full product), never halved.

Sources: matmul 2mkn (formulas.md); attention 4 s^2 d a layer (Korthikanti et al. 2022, sec. 4.1,
without the causal halving). The DiT's FLOPs are in blocks.py; Megatron-LM's GPT is here for
back-testing the time model on published LLM runs.
"""
from __future__ import annotations

from estimators.specs.models import GPTSpec

FLOPS_PER_MAC = 2
# Attention per layer: QK^T and AV, each 2 s_q s_k d.
ATTENTION_MATMULS = 2


def matmul_flops(rows: int, d_in: int, d_out: int) -> int:
    """(rows x d_in) @ (d_in x d_out)."""
    return FLOPS_PER_MAC * rows * d_in * d_out


def attention_flops(q_len: int, k_len: int, width: int, batch: int = 1) -> int:
    """Score and value products of softmax attention over all heads (width = heads x head_dim)."""
    return ATTENTION_MATMULS * FLOPS_PER_MAC * batch * q_len * k_len * width


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
