"""Exact parameters and forward FLOPs of the frozen text encoders (conventions of params.py and flops.py).

One spec in, dispatch on its family. Shapes follow transformers' ``T5EncoderModel`` / ``UMT5EncoderModel``
(Raffel et al. 2020; Chung et al. 2023), ``CLIPTextModel`` (Radford et al. 2021), ``LlamaModel``
(Touvron et al. 2023; Llama 3, Dubey et al. 2024) and ``Qwen2_5_VLTextModel`` (q/k/v biases), ``BertModel``
(Devlin et al. 2019), and Step-Video's Step-LLM (stepvideo/text_encoder/stepllm.py: GQA, SwiGLU, no final norm). FLOPs count what FlopCounterMode counts: matmuls and
attention products at 2 per multiply-add; norms, activations, softmax, embedding look-ups and the
relative-position bias add are not counted.
"""
from __future__ import annotations

from estimators.counts.flops import attention_flops, matmul_flops
from estimators.counts.params import linear_params
from estimators.specs.text_encoders import (
    BertEncoderSpec,
    CLIPTextEncoderSpec,
    DecoderLLMEncoderSpec,
    T5EncoderSpec,
)

# A gated FFN (T5 v1.1 gated-GELU, Llama SwiGLU) has two input projections: gate and up.
GATED_INPUT_PROJECTIONS = 2
# LayerNorm holds a scale and a shift per channel; RMSNorm only a scale.
LAYER_NORM_PARAMS_PER_CHANNEL = 2


def t5_encoder_params(spec: T5EncoderSpec) -> dict[str, int]:
    """T5 v1.1 encoder: per layer q,k,v,o (d x inner) + gated FFN (3 d d_ff) + 2 RMSNorm scales.

    The relative position bias (buckets x heads) sits in layer 0 only (T5) or in every layer (UMT5).
    """
    d, inner = spec.d_model, spec.inner_dim
    ffn_mats = GATED_INPUT_PROJECTIONS + 1 if spec.gated_ffn else 2
    per_layer = 4 * d * inner + ffn_mats * d * spec.d_ff + 2 * d
    bias_tables = spec.num_layers if spec.relative_bias_every_layer else 1
    return {
        "embedding": spec.vocab_size * d,
        "relative_position_bias": bias_tables * spec.relative_attention_buckets * spec.num_heads,
        "layers": spec.num_layers * per_layer,
        "final_norm": d,
    }


def t5_encoder_flops(spec: T5EncoderSpec, tokens: int) -> dict[str, int]:
    """T5 v1.1 / UMT5 encoder forward for one prompt of ``tokens`` tokens (all layers, all positions)."""
    d, inner = spec.d_model, spec.inner_dim
    ffn_in = (GATED_INPUT_PROJECTIONS if spec.gated_ffn else 1) * spec.d_ff
    per_layer_linear = matmul_flops(tokens, d, 4 * inner) + matmul_flops(tokens, d, ffn_in) + matmul_flops(tokens, spec.d_ff, d)
    return {
        "linear": spec.num_layers * per_layer_linear,
        "attention": spec.num_layers * attention_flops(tokens, tokens, inner),
    }


def clip_text_params(spec: CLIPTextEncoderSpec) -> dict[str, int]:
    """CLIP text tower: token and position embeddings; per layer q,k,v,out and fc1, fc2 (all with bias)
    and two LayerNorms; a final LayerNorm."""
    d, m = spec.width, spec.mlp_dim
    norm = LAYER_NORM_PARAMS_PER_CHANNEL * d
    per_layer = 4 * linear_params(d, d, True) + linear_params(d, m, True) + linear_params(m, d, True) + 2 * norm
    return {
        "embedding": spec.vocab_size * d,
        "position_embedding": spec.max_positions * d,
        "layers": spec.num_layers * per_layer,
        "final_norm": norm,
    }


def clip_text_flops(spec: CLIPTextEncoderSpec, tokens: int) -> dict[str, int]:
    """CLIP text forward over ``tokens`` positions; the causal mask does not shrink the counted products."""
    d, m = spec.width, spec.mlp_dim
    per_layer_linear = matmul_flops(tokens, d, 4 * d) + matmul_flops(tokens, d, m) + matmul_flops(tokens, m, d)
    return {
        "linear": spec.num_layers * per_layer_linear,
        "attention": spec.num_layers * attention_flops(tokens, tokens, d),
    }


def decoder_llm_params(spec: DecoderLLMEncoderSpec) -> dict[str, int]:
    """Llama decoder without LM head: per layer q, o (d x heads*hd), k, v (d x kv_heads*hd) (Qwen2: q, k, v with
    biases), SwiGLU (3 d ff), two RMSNorm scales; a final RMSNorm unless the model has none (Step-LLM). All
    layers of the checkpoint are counted (loaded)."""
    d, q_width, kv_width = spec.hidden_size, spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
    qkv_biases = (q_width + 2 * kv_width) if spec.qkv_bias else 0
    per_layer = 2 * d * q_width + 2 * d * kv_width + qkv_biases + (GATED_INPUT_PROJECTIONS + 1) * d * spec.intermediate_size + 2 * d
    return {
        "embedding": spec.vocab_size * d,
        "layers": spec.num_layers * per_layer,
        "final_norm": d if spec.final_norm else 0,
    }


def decoder_llm_flops(spec: DecoderLLMEncoderSpec, tokens: int) -> dict[str, int]:
    """Forward of the layers that feed the DiT's hidden state (``layers_run``), over ``tokens`` positions.

    RoPE angles are an outer product by broadcasting (not a counted matmul). Grouped-query attention costs as many score/value products as full multi-head attention.
    """
    d, q_width, kv_width = spec.hidden_size, spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
    ff = spec.intermediate_size
    per_layer_linear = (
        matmul_flops(tokens, d, q_width + 2 * kv_width)
        + matmul_flops(tokens, q_width, d)
        + matmul_flops(tokens, d, GATED_INPUT_PROJECTIONS * ff)
        + matmul_flops(tokens, ff, d)
    )
    return {
        "linear": spec.layers_run * per_layer_linear,
        "attention": spec.layers_run * attention_flops(tokens, tokens, q_width),
    }


def bert_params(spec: BertEncoderSpec) -> dict[str, int]:
    """BERT: word, position and token-type embeddings and their LayerNorm; per layer q, k, v, out, the MLP's two
    layers (all with bias) and two LayerNorms; the pooler's dense layer."""
    h, i = spec.hidden_size, spec.intermediate_size
    norm = LAYER_NORM_PARAMS_PER_CHANNEL * h
    per_layer = 4 * linear_params(h, h, True) + linear_params(h, i, True) + linear_params(i, h, True) + 2 * norm
    return {
        "embedding": (spec.vocab_size + spec.max_positions + spec.type_vocab_size) * h + norm,
        "layers": spec.num_layers * per_layer,
        "pooler": linear_params(h, h, True) if spec.pooler else 0,
    }


def bert_flops(spec: BertEncoderSpec, tokens: int) -> dict[str, int]:
    """BERT forward over ``tokens`` positions; the pooler on the first token (one row)."""
    h, i = spec.hidden_size, spec.intermediate_size
    per_layer_linear = matmul_flops(tokens, h, 4 * h) + matmul_flops(tokens, h, i) + matmul_flops(tokens, i, h)
    return {
        "linear": spec.num_layers * per_layer_linear + (matmul_flops(1, h, h) if spec.pooler else 0),
        "attention": spec.num_layers * attention_flops(tokens, tokens, h),
    }


_PARAMS = {"t5_encoder": t5_encoder_params, "clip_text": clip_text_params, "decoder_llm": decoder_llm_params, "bert": bert_params}
_FLOPS = {"t5_encoder": t5_encoder_flops, "clip_text": clip_text_flops, "decoder_llm": decoder_llm_flops, "bert": bert_flops}


def text_encoder_params(spec) -> dict[str, int]:
    """Parameters of one text encoder, by part (the parts sum to the total)."""
    return _PARAMS[spec.family](spec)


def text_encoder_flops(spec, tokens: int) -> dict[str, int]:
    """Forward FLOPs of one prompt of ``tokens`` tokens as fed to the encoder (see text_encoder_tokens)."""
    return _FLOPS[spec.family](spec, tokens)


def text_encoder_tokens(spec, dit_text_tokens: int) -> int:
    """Tokens the encoder runs on for a DiT that reads ``dit_text_tokens`` text tokens.

    CLIP pads every prompt to its positions (77), a BERT encoder to its ``tokens``; an LLM encoder runs its
    template before the caption (HunyuanVideo: 95 + 256 = 351, diffusers HunyuanVideoPipeline); T5 runs on the
    DiT's tokens unless it pads every prompt to fixed tokens (HunyuanVideo 1.5's ByT5: 256).
    """
    if isinstance(spec, CLIPTextEncoderSpec):
        return spec.max_positions
    if isinstance(spec, BertEncoderSpec):
        return spec.tokens
    if isinstance(spec, DecoderLLMEncoderSpec):
        return spec.template_tokens + dit_text_tokens
    return spec.fixed_tokens or dit_text_tokens


def text_encoder_gemm_width(spec) -> int:
    """Representative matmul width (the model width), for the matmul-efficiency curve."""
    if isinstance(spec, T5EncoderSpec):
        return spec.d_model
    if isinstance(spec, CLIPTextEncoderSpec):
        return spec.width
    return spec.hidden_size  # decoder LLM, BERT


def text_encoder_working_elements(spec, tokens: int) -> int:
    """Largest transient activation, elements: the FFN hidden state of one layer (tokens x hidden width)."""
    if isinstance(spec, T5EncoderSpec):
        return tokens * spec.d_ff
    if isinstance(spec, CLIPTextEncoderSpec):
        return tokens * spec.mlp_dim
    return tokens * spec.intermediate_size  # decoder LLM, BERT
