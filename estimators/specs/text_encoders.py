"""Frozen text-encoder specs (the encoder that turns a caption into the DiT's text tokens).

``TextEncoderSpec`` is the union of the families, told apart by ``family``. Each family's fields are
the hyper-parameters of its Hugging Face ``config.json`` under our names.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from estimators.specs.base import Spec
from estimators.specs.bounds import Depth, Size, SizeOrZero


class T5EncoderSpec(Spec):
    """Encoder of T5 v1.1 (gated-GELU FFN, RMS norm, no biases, relative position bias in layer 0).

    UMT5 (Chung et al. 2023) is the same encoder with a relative position bias in every layer.
    """

    family: Literal["t5_encoder"] = "t5_encoder"
    num_layers: Depth = Field(description="Encoder layers (XXL: 24).")
    d_model: Size = Field(description="Model width (XXL: 4096).")
    d_ff: Size = Field(description="FFN hidden width (XXL: 10240).")
    num_heads: Size = Field(description="Attention heads (XXL: 64).")
    d_kv: Size = Field(description="Width of one head (XXL: 64).")
    vocab_size: Size = Field(description="Embedding rows (T5 v1.1: 32128; UMT5: 256384).")
    relative_attention_buckets: Size = Field(description="Relative position buckets (32).")
    gated_ffn: bool = Field(default=True, description="Gated-GELU FFN (wi_0, wi_1, wo) as in T5 v1.1.")
    relative_bias_every_layer: bool = Field(
        default=False, description="A relative position bias table in every layer (UMT5), not only the first (T5)."
    )
    fixed_tokens: SizeOrZero = Field(
        default=0,
        description="Tokens every prompt is padded to whatever the caption's length (HunyuanVideo 1.5's ByT5 glyph encoder: "
        "256); 0: the DiT's caption tokens.",
    )

    @property
    def inner_dim(self) -> int:
        """Attention width, heads x d_kv."""
        return self.num_heads * self.d_kv

    @property
    def feature_dim(self) -> int:
        """Width of the features handed to the DiT (the last hidden state)."""
        return self.d_model


class CLIPTextEncoderSpec(Spec):
    """Text tower of CLIP (Radford et al. 2021): pre-LN transformer, learned positions, biases everywhere.

    transformers' ``CLIPTextModel`` (no text projection); HunyuanVideo takes its pooled output (the final
    hidden state at the end-of-text token) as a global condition vector.
    """

    family: Literal["clip_text"] = "clip_text"
    num_layers: Depth = Field(description="Transformer layers (ViT-L/14 text: 12).")
    width: Size = Field(description="Hidden width (ViT-L/14 text: 768).")
    num_heads: Size = Field(description="Attention heads (ViT-L/14 text: 12).")
    mlp_dim: Size = Field(description="MLP hidden width (ViT-L/14 text: 3072).")
    vocab_size: Size = Field(description="Embedding rows (49408).")
    max_positions: Size = Field(description="Learned positions; prompts are padded to this length (77).")

    @property
    def feature_dim(self) -> int:
        """Width of the pooled vector handed to the DiT."""
        return self.width


class DecoderLLMEncoderSpec(Spec):
    """Decoder-only LLM used as a text encoder (Llama family: RMS norm, RoPE, grouped-query attention, SwiGLU).

    transformers' ``LlamaModel``. The DiT reads the hidden state ``skip_last_layers`` layers before the last
    (HunyuanVideo: ``hidden_states[-3]``, the output of layer 30 of 32), so those layers need not run. The
    prompt is wrapped in a template whose first ``template_tokens`` tokens are cropped after encoding.
    """

    family: Literal["decoder_llm"] = "decoder_llm"
    num_layers: Depth = Field(description="Decoder layers held in the checkpoint (Llama-3-8B: 32).")
    hidden_size: Size = Field(description="Hidden width (4096).")
    num_heads: Size = Field(description="Query heads (32).")
    num_kv_heads: Size = Field(description="Key/value heads, grouped-query attention (8).")
    head_dim: Size = Field(description="Width of one head (128).")
    intermediate_size: Size = Field(description="SwiGLU hidden width (14336).")
    vocab_size: Size = Field(description="Embedding rows (llava-llama-3-8b-v1_1: 128320).")
    skip_last_layers: SizeOrZero = Field(
        default=0, description="Last layers whose output the DiT does not use (diffusers' num_hidden_layers_to_skip)."
    )
    template_tokens: SizeOrZero = Field(
        default=0, description="Prompt-template tokens run before the caption's and cropped after (crop_start)."
    )
    qkv_bias: bool = Field(default=False, description="Biases on the q, k and v projections (Qwen2: true; Llama: false).")
    final_norm: bool = Field(default=True, description="A final RMSNorm after the last layer (Step-Video's Step-LLM: none).")

    @model_validator(mode="after")
    def _some_layer_runs(self) -> DecoderLLMEncoderSpec:
        if self.skip_last_layers >= self.num_layers:
            raise ValueError(f"skip_last_layers ({self.skip_last_layers}) must be fewer than num_layers ({self.num_layers})")
        return self

    @property
    def layers_run(self) -> int:
        """Layers that feed the hidden state the DiT reads."""
        return self.num_layers - self.skip_last_layers

    @property
    def feature_dim(self) -> int:
        """Width of the features handed to the DiT."""
        return self.hidden_size


class BertEncoderSpec(Spec):
    """A BERT encoder (Devlin et al. 2019; transformers' ``BertModel``): post-LN transformer with learned word,
    position and token-type embeddings, biases everywhere, GELU MLP, and a pooler (a dense layer on the first
    token) when the checkpoint has one. Step-Video's Hunyuan-CLIP is one (HunyuanDiT's bilingual CLIP text tower)."""

    family: Literal["bert"] = "bert"
    num_layers: Depth = Field(description="Encoder layers (Hunyuan-CLIP: 24).")
    hidden_size: Size = Field(description="Hidden width (1024).")
    num_heads: Size = Field(description="Attention heads (16).")
    intermediate_size: Size = Field(description="MLP hidden width (4096).")
    vocab_size: Size = Field(description="Word-embedding rows (47020).")
    max_positions: Size = Field(description="Learned positions (512).")
    type_vocab_size: Size = Field(default=2, description="Token-type embedding rows (2).")
    pooler: bool = Field(default=True, description="The pooler's dense layer on the first token (BertModel's add_pooling_layer).")
    tokens: Size = Field(description="Tokens every prompt is padded to (Step-Video's Hunyuan-CLIP: 77).")

    @property
    def feature_dim(self) -> int:
        """Width of the token features handed to the DiT."""
        return self.hidden_size


TextEncoderSpec = Annotated[
    T5EncoderSpec | CLIPTextEncoderSpec | DecoderLLMEncoderSpec | BertEncoderSpec, Field(discriminator="family")
]
