"""Frozen text-encoder specs (the encoder that turns a caption into the DiT's text tokens)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from estimators.specs.base import Spec


class T5EncoderSpec(Spec):
    """Encoder of T5 v1.1 (gated-GELU FFN, RMS norm, no biases, relative position bias in layer 0)."""

    family: Literal["t5_encoder"] = "t5_encoder"
    num_layers: PositiveInt = Field(description="Encoder layers (XXL: 24).")
    d_model: PositiveInt = Field(description="Model width (XXL: 4096).")
    d_ff: PositiveInt = Field(description="FFN hidden width (XXL: 10240).")
    num_heads: PositiveInt = Field(description="Attention heads (XXL: 64).")
    d_kv: PositiveInt = Field(description="Width of one head (XXL: 64).")
    vocab_size: PositiveInt = Field(description="Embedding rows (T5 v1.1: 32128).")
    relative_attention_buckets: PositiveInt = Field(description="Relative position buckets (32).")
    gated_ffn: bool = Field(default=True, description="Gated-GELU FFN (wi_0, wi_1, wo) as in T5 v1.1.")

    @property
    def inner_dim(self) -> int:
        """Attention width, heads x d_kv."""
        return self.num_heads * self.d_kv
