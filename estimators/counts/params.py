"""Exact parameter counts, per component, for every model family.

Each function returns an ordered dict of named parts whose values sum to the total. Shapes follow
the public implementations the tests compare against: genmoai/mochi and diffusers'
``MochiTransformer3DModel`` / ``AutoencoderKLMochi``; transformers' ``T5EncoderModel``;
Megatron-LM's GPT (Shoeybi et al. 2019) for ``gpt``.
"""
from __future__ import annotations

from estimators.specs.models import AsymmDiTSpec, GPTSpec

# Number of RoPE axes of Mochi's learned mixed rotary embedding: (t, h, w).
ROPE_AXES = 3
# Linear layers of a SwiGLU MLP's first projection: gate and value halves fused.
SWIGLU_HALVES = 2


def linear_params(d_in: int, d_out: int, bias: bool) -> int:
    """Weights (and bias) of a dense layer d_in -> d_out."""
    return d_in * d_out + (d_out if bias else 0)


def mlp_params(width: int, hidden: int, activation: str, bias: bool) -> int:
    """SwiGLU: w1 width -> 2*hidden, w2 hidden -> width; GELU: width -> hidden -> width."""
    halves = SWIGLU_HALVES if activation == "swiglu" else 1
    return linear_params(width, halves * hidden, bias) + linear_params(hidden, width, bias)


def dit_block_params(spec: AsymmDiTSpec, last: bool) -> dict[str, int]:
    """One dual-stream block (Mochi AsymmetricJointBlock); ``last`` applies the last-block rule."""
    dx, dy, da = spec.visual_width, spec.text_width, spec.attn_width
    updates_text = spec.last_block_updates_text or not last
    text_mod_outputs = spec.text_modulation_outputs if updates_text else spec.last_block_text_modulation_outputs
    separate = spec.text_stream == "separate"
    parts = {
        "mod_visual": linear_params(spec.cond_width, spec.modulation_outputs * dx, bias=True),
        "mod_text": linear_params(spec.cond_width, text_mod_outputs * dy, bias=True) if text_mod_outputs else 0,
        "qkv_visual": 3 * linear_params(dx, da, spec.qkv_bias),
        "qkv_text": 3 * linear_params(dy, da, spec.qkv_bias) if separate else 0,
        # learned RMSNorm scales of width head_dim on q and k, for each stream's projections
        "qk_norm": (2 * spec.head_dim * (2 if separate else 1)) if spec.qk_norm else 0,
        "out_visual": linear_params(da, dx, spec.out_bias),
        "out_text": linear_params(da, dy, spec.out_bias) if separate and updates_text else 0,
        "mlp_visual": mlp_params(dx, spec.mlp_hidden(dx), spec.mlp_activation, spec.mlp_bias),
        "mlp_text": (
            mlp_params(dy, spec.mlp_hidden(dy), spec.mlp_activation, spec.mlp_bias)
            if separate and updates_text
            else 0
        ),
    }
    return parts


def dit_params(spec: AsymmDiTSpec) -> dict[str, int]:
    """Whole AsymmDiT: embedders, blocks (full and last), final layer."""
    dx = spec.visual_width
    full_block = sum(dit_block_params(spec, last=False).values())
    last_block = sum(dit_block_params(spec, last=True).values())
    patch_in = spec.in_channels * spec.patch_size**2 * spec.patch_size_t
    patch_out = spec.out_channels * spec.patch_size**2 * spec.patch_size_t
    t5 = spec.text_feature_dim
    pool = 0
    if spec.attn_pool_heads:
        # to_kv t5 -> 2*t5, to_q t5 -> t5, to_out t5 -> cond (all with bias)
        pool = linear_params(t5, 2 * t5, True) + linear_params(t5, t5, True) + linear_params(t5, spec.cond_width, True)
    return {
        "patch_embed": linear_params(patch_in, dx, bias=True),
        "timestep_embed": linear_params(spec.timestep_freq_dim, spec.cond_width, True)
        + linear_params(spec.cond_width, spec.cond_width, True),
        "caption_pool": pool,
        "caption_proj": linear_params(t5, spec.text_width, bias=True),
        "rope_freqs": ROPE_AXES * spec.num_heads * (spec.head_dim // 2) if spec.learned_rope else 0,
        "blocks": (spec.num_layers - 1) * full_block + last_block,
        # final layer: LayerNorm without affine, adaLN cond -> k*dx, linear dx -> patch pixels
        "final_layer": linear_params(spec.cond_width, spec.final_modulation_outputs * dx, True)
        + linear_params(dx, patch_out, True),
    }


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
