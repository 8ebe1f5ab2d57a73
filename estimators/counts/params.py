"""Exact parameter counts: the dense-layer primitive every count uses, and Megatron-LM's GPT (Shoeybi et
al. 2019) for back-testing the time model on published LLM runs. The DiT's counts are in blocks.py.
"""
from __future__ import annotations

from estimators.specs.models import GPTSpec


def linear_params(d_in: int, d_out: int, bias: bool) -> int:
    """Weights (and bias) of a dense layer d_in -> d_out."""
    return d_in * d_out + (d_out if bias else 0)


def gpt_params(spec: GPTSpec) -> dict[str, int]:
    """Megatron GPT / Llama: attention (GQA aware) + MLP + 2 norms a layer, embedding and untied head.

    Norm weights are counted as one vector each (RMSNorm); biases are left out (Llama has none,
    Megatron GPT's are < 0.1% of the total and do not move the time model).
    """
    h = spec.hidden_size
    kv_width = h // spec.num_heads * spec.num_kv_heads
    attention = h * h + 2 * h * kv_width + h * h
    mlp = (3 if spec.gated_mlp else 2) * h * spec.ffn_hidden_size
    return {
        "embedding": spec.vocab_size * h,
        "layers": spec.num_layers * (attention + mlp + 2 * h),
        "final_norm": h,
        "output_layer": spec.vocab_size * h,
    }
