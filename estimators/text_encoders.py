"""Exact parameters and forward FLOPs of the frozen text encoders (conventions of params.py and flops.py).

Shapes follow transformers' ``T5EncoderModel`` (Raffel et al. 2020, T5 v1.1).
"""
from __future__ import annotations

from estimators.flops import attention_flops, matmul_flops
from estimators.specs.text_encoders import T5EncoderSpec


def t5_encoder_params(spec: T5EncoderSpec) -> dict[str, int]:
    """T5 v1.1 encoder: per layer q,k,v,o (d x inner) + gated FFN (3 d d_ff) + 2 RMSNorm scales."""
    d, inner = spec.d_model, spec.inner_dim
    ffn_mats = 3 if spec.gated_ffn else 2
    per_layer = 4 * d * inner + ffn_mats * d * spec.d_ff + 2 * d
    return {
        "embedding": spec.vocab_size * d,
        "relative_position_bias": spec.relative_attention_buckets * spec.num_heads,
        "layers": spec.num_layers * per_layer,
        "final_norm": d,
    }


def t5_encoder_flops(spec: T5EncoderSpec, tokens: int) -> dict[str, int]:
    """T5 v1.1 encoder forward for one prompt of ``tokens`` tokens."""
    d, inner = spec.d_model, spec.inner_dim
    ffn_in = (2 if spec.gated_ffn else 1) * spec.d_ff
    per_layer_linear = matmul_flops(tokens, d, 4 * inner) + matmul_flops(tokens, d, ffn_in) + matmul_flops(tokens, spec.d_ff, d)
    return {
        "linear": spec.num_layers * per_layer_linear,
        "attention": spec.num_layers * attention_flops(tokens, tokens, inner),
    }
