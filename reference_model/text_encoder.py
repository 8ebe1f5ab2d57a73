"""A T5-style text encoder (T5 v1.1: gated-GELU FFN, RMS norm, no biases, relative position bias
computed by the first layer and shared by all). Shapes follow estimators.specs.T5EncoderSpec."""
from __future__ import annotations

import math

import torch
from torch import nn

from estimators.specs.text_encoders import T5EncoderSpec
from reference_model.layers import RMSNorm

MAX_DISTANCE = 128  # T5's relative_attention_max_distance


def relative_bucket(relative: torch.Tensor, buckets: int) -> torch.Tensor:
    """Bidirectional T5 bucketing: half the buckets per sign, exact below buckets/4, log-spaced above."""
    half = buckets // 2
    sign_offset = (relative > 0).long() * half
    distance = relative.abs()
    exact = half // 2
    log_bucket = exact + (torch.log(distance.float().clamp(min=1) / exact) / math.log(MAX_DISTANCE / exact) * (half - exact)).long()
    return sign_offset + torch.where(distance < exact, distance, log_bucket.clamp(max=half - 1))


class T5Layer(nn.Module):
    def __init__(self, spec: T5EncoderSpec, has_position_bias: bool):
        super().__init__()
        d, inner = spec.d_model, spec.inner_dim
        self.heads, self.d_kv = spec.num_heads, spec.d_kv
        self.norm1, self.norm2 = RMSNorm(d), RMSNorm(d)
        self.q, self.k, self.v = (nn.Linear(d, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, d, bias=False)
        self.wi_0, self.wi_1 = nn.Linear(d, spec.d_ff, bias=False), nn.Linear(d, spec.d_ff, bias=False)
        self.wo = nn.Linear(spec.d_ff, d, bias=False)
        self.position_bias = nn.Embedding(spec.relative_attention_buckets, spec.num_heads) if has_position_bias else None
        self.buckets = spec.relative_attention_buckets

    def bias(self, length: int) -> torch.Tensor:
        """(1, heads, L, L) relative position bias."""
        pos = torch.arange(length)
        return self.position_bias(relative_bucket(pos[None, :] - pos[:, None], self.buckets)).permute(2, 0, 1)[None]

    def forward(self, x: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length, _ = x.shape  # x: (B, L, d)
        h = self.norm1(x)
        q, k, v = (proj(h).view(b, length, self.heads, self.d_kv).transpose(1, 2) for proj in (self.q, self.k, self.v))
        scores = torch.matmul(q, k.transpose(-1, -2)) + bias  # (B, H, L, L); T5 does not scale by sqrt(d)
        scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        attended = torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(b, length, -1)
        x = x + self.o(attended)
        h = self.norm2(x)
        return x + self.wo(nn.functional.gelu(self.wi_0(h), approximate="tanh") * self.wi_1(h))


class T5Encoder(nn.Module):
    """ids (B, L) and a validity mask (B, L) -> features (B, L, d_model)."""

    def __init__(self, spec: T5EncoderSpec):
        super().__init__()
        self.embed = nn.Embedding(spec.vocab_size, spec.d_model)
        self.layers = nn.ModuleList(T5Layer(spec, has_position_bias=i == 0) for i in range(spec.num_layers))
        self.final_norm = RMSNorm(spec.d_model)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        bias = self.layers[0].bias(ids.shape[1])
        for layer in self.layers:
            x = layer(x, bias, mask)
        return self.final_norm(x)
