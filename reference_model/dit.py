"""AsymmDiT (Mochi 1's asymmetric diffusion transformer) built from estimators.specs.AsymmDiTSpec.

Visual tokens (B, N, d_x) and text tokens (B, L, d_y) have their own widths and weights; each block runs
one joint full attention over [visual; valid text] (padding masked out), adaLN modulation from
c = timestep embedding + attention-pooled caption with tanh gates and no shift, SwiGLU MLPs, learned
mixed 3D RoPE on visual q/k; the last block does not update the text stream.

The spec's variants are built as written: a shared text stream runs through the visual block's own
modules (weights tied; each stream keeps its modulation), learned_rope false has no rotary embedding,
attn_pool_heads 0 no caption pooling (c is the timestep embedding alone), qk_norm false no q/k norms.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

from estimators.counts.blocks import ROPE_AXES
from estimators.specs.asymm_dit import AsymmDiTSpec
from reference_model.layers import RMSNorm, sinusoidal_embedding


class SwiGLU(nn.Module):
    def __init__(self, width: int, hidden: int, bias: bool):
        super().__init__()
        self.w1 = nn.Linear(width, 2 * hidden, bias=bias)
        self.w2 = nn.Linear(hidden, width, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.w1(x).chunk(2, dim=-1)
        return self.w2(F.silu(gate) * value)


def mlp(spec: AsymmDiTSpec, width: int) -> nn.Module:
    hidden = spec.mlp_hidden(width)
    if spec.mlp_activation == "swiglu":
        return SwiGLU(width, hidden, spec.mlp_bias)
    return nn.Sequential(nn.Linear(width, hidden, bias=spec.mlp_bias), nn.GELU(approximate="tanh"), nn.Linear(hidden, width, bias=spec.mlp_bias))


# Selective recompute keeps what matmuls and attention produce and re-runs every element-wise op.
SAVED_OPS = {
    torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default,
    torch.ops.aten._scaled_dot_product_flash_attention.default,
    torch.ops.aten._scaled_dot_product_efficient_attention.default,
}
RECOMPUTE_MODES = ("none", "selective", "full")


def _save_matmuls(ctx, op, *args, **kwargs):
    return CheckpointPolicy.MUST_SAVE if op in SAVED_OPS else CheckpointPolicy.PREFER_RECOMPUTE


def run_block(block: nn.Module, recompute: str, *inputs):
    """A block under a recompute mode: none, selective (save matmul/attention outputs), full."""
    if recompute == "none" or not torch.is_grad_enabled():
        return block(*inputs)
    if recompute == "full":
        return checkpoint(block, *inputs, use_reentrant=False)
    return checkpoint(block, *inputs, use_reentrant=False, context_fn=partial(create_selective_checkpoint_contexts, _save_matmuls))


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs: x (B, H, N, D), cos/sin (H, N, D/2)."""
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)


def qk_norm(spec: AsymmDiTSpec) -> nn.Module:
    """Learned per-head RMSNorm of q or k, or none."""
    return RMSNorm(spec.head_dim) if spec.qk_norm else nn.Identity()


class Block(nn.Module):
    def __init__(self, spec: AsymmDiTSpec, last: bool):
        super().__init__()
        dx, dy, da = spec.visual_width, spec.text_width, spec.attn_width
        self.heads, self.head_dim = spec.num_heads, spec.head_dim
        self.updates_text = spec.last_block_updates_text or not last
        shared = spec.text_stream == "shared"
        text_mods = spec.text_modulation_outputs if self.updates_text else spec.last_block_text_modulation_outputs
        self.mod_x = nn.Linear(spec.cond_width, spec.modulation_outputs * dx)
        self.mod_y = nn.Linear(spec.cond_width, text_mods * dy)
        self.qkv_x = nn.Linear(dx, 3 * da, bias=spec.qkv_bias)
        self.qkv_y = self.qkv_x if shared else nn.Linear(dy, 3 * da, bias=spec.qkv_bias)
        self.q_norm_x, self.k_norm_x = qk_norm(spec), qk_norm(spec)
        self.q_norm_y, self.k_norm_y = (self.q_norm_x, self.k_norm_x) if shared else (qk_norm(spec), qk_norm(spec))
        self.out_x = nn.Linear(da, dx, bias=spec.out_bias)
        self.mlp_x = mlp(spec, dx)
        if self.updates_text:
            self.out_y = self.out_x if shared else nn.Linear(da, dy, bias=spec.out_bias)
            self.mlp_y = self.mlp_x if shared else mlp(spec, dy)
        self.norm = RMSNorm(1, affine=False)

    def _qkv(self, tokens, proj, q_norm, k_norm):
        b, n, _ = tokens.shape
        q, k, v = proj(tokens).view(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)  # each (B, H, n, D)
        return q_norm(q), k_norm(k), v

    def forward(self, x, y, c, rope, mask):
        """x (B, N, dx), y (B, L, dy), c (B, cond), rope (cos, sin), mask (B, L) bool -> new x, y."""
        n = x.shape[1]
        scale_msa, gate_msa, scale_mlp, gate_mlp = self.mod_x(F.silu(c))[:, None].chunk(4, dim=-1)
        mods_y = self.mod_y(F.silu(c))[:, None].chunk(4 if self.updates_text else 1, dim=-1)
        qx, kx, vx = self._qkv(self.norm(x) * (1 + scale_msa), self.qkv_x, self.q_norm_x, self.k_norm_x)
        qy, ky, vy = self._qkv(self.norm(y) * (1 + mods_y[0]), self.qkv_y, self.q_norm_y, self.k_norm_y)
        if rope is not None:
            qx, kx = apply_rope(qx, *rope), apply_rope(kx, *rope)
        # joint full (bidirectional) attention; padding text tokens are masked out as keys
        keep = torch.cat([mask.new_ones(mask.shape[0], n), mask], dim=1)[:, None, None, :]  # also for an empty caption
        out = F.scaled_dot_product_attention(torch.cat([qx, qy], 2), torch.cat([kx, ky], 2), torch.cat([vx, vy], 2), attn_mask=keep)
        out = out.transpose(1, 2).flatten(2)  # (B, N + L, heads x head_dim)
        x = x + torch.tanh(gate_msa) * self.norm(self.out_x(out[:, :n]))
        x = x + torch.tanh(gate_mlp) * self.norm(self.mlp_x(self.norm(x) * (1 + scale_mlp)))
        if not self.updates_text:
            return x, y
        _, gate_msa_y, scale_mlp_y, gate_mlp_y = mods_y
        y = y + torch.tanh(gate_msa_y) * self.norm(self.out_y(out[:, n:]))
        y = y + torch.tanh(gate_mlp_y) * self.norm(self.mlp_y(self.norm(y) * (1 + scale_mlp_y)))
        return x, y


class AttentionPool(nn.Module):
    """Pool T5 features (B, L, D) into (B, cond): the masked mean queries keys/values over [mean; tokens]."""

    def __init__(self, spec: AsymmDiTSpec):
        super().__init__()
        d = spec.text_feature_dim
        self.heads = spec.attn_pool_heads
        self.to_kv = nn.Linear(d, 2 * d)
        self.to_q = nn.Linear(d, d)
        self.to_out = nn.Linear(d, spec.cond_width)

    def forward(self, feats: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, length, d = feats.shape
        weights = mask.float()[..., None]
        mean = (feats * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(min=1)
        tokens = torch.cat([mean, feats], dim=1)  # (B, L + 1, D)
        k, v = self.to_kv(tokens).view(b, length + 1, 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q = self.to_q(tokens[:, 0]).view(b, self.heads, 1, d // self.heads)
        keep = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)[:, None, None, :]
        pooled = F.scaled_dot_product_attention(q, k, v, attn_mask=keep).reshape(b, d)
        return self.to_out(pooled)


class AsymmDiT(nn.Module):
    """Predicts the rectified-flow velocity of latents (B, C, T, H, W) given time s and T5 features."""

    def __init__(self, spec: AsymmDiTSpec, recompute: str = "none"):
        super().__init__()
        if recompute not in RECOMPUTE_MODES:
            raise ValueError(f"recompute must be one of {RECOMPUTE_MODES}")
        self.recompute = recompute
        if spec.patch_size_t != 1:
            raise ValueError("the reference AsymmDiT implements spatial patches only")
        if spec.text_stream == "shared" and not spec.last_block_updates_text:
            raise ValueError("the reference AsymmDiT runs a shared text stream through every block (last_block_updates_text: true)")
        self.spec = spec
        dx, p = spec.visual_width, spec.patch_size
        self.patch_embed = nn.Linear(spec.in_channels * p * p, dx)
        self.t_embed = nn.Sequential(nn.Linear(spec.timestep_freq_dim, spec.cond_width), nn.SiLU(), nn.Linear(spec.cond_width, spec.cond_width))
        self.pool = AttentionPool(spec) if spec.attn_pool_heads else None
        self.caption_proj = nn.Linear(spec.text_feature_dim, spec.text_width)
        # learned_rope false: no rotary embedding at all (the estimators then count no RoPE matmul)
        self.rope_freqs = nn.Parameter(torch.randn(ROPE_AXES, spec.num_heads, spec.head_dim // 2) * 0.1) if spec.learned_rope else None
        self.blocks = nn.ModuleList(Block(spec, last=i == spec.num_layers - 1) for i in range(spec.num_layers))
        self.final_mod = nn.Linear(spec.cond_width, spec.final_modulation_outputs * dx)
        self.final_norm = nn.LayerNorm(dx, elementwise_affine=False)
        self.final_proj = nn.Linear(dx, p * p * spec.out_channels)

    def rope(self, t: int, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """cos, sin of (H, N, D/2): positions (N, 3) @ learned frequencies (3, H x D/2); None without RoPE."""
        if self.rope_freqs is None:
            return None
        grid = torch.stack(torch.meshgrid(torch.arange(t), torch.arange(h), torch.arange(w), indexing="ij"), -1)
        positions = grid.reshape(-1, ROPE_AXES).float()
        angles = (positions @ self.rope_freqs.reshape(ROPE_AXES, -1)).view(-1, self.spec.num_heads, self.spec.head_dim // 2)
        angles = angles.transpose(0, 1)
        return torch.cos(angles), torch.sin(angles)

    def forward(self, latents: torch.Tensor, s: torch.Tensor, text: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = latents.shape
        p = self.spec.patch_size
        gh, gw = h // p, w // p
        patches = latents.view(b, c, t, gh, p, gw, p).permute(0, 2, 3, 5, 1, 4, 6).reshape(b, t * gh * gw, c * p * p)
        x = self.patch_embed(patches)
        cond = self.t_embed(sinusoidal_embedding(s, self.spec.timestep_freq_dim))
        if self.pool is not None:
            cond = cond + self.pool(text, mask)
        y = self.caption_proj(text)
        rope = self.rope(t, gh, gw)
        for block in self.blocks:
            x, y = run_block(block, self.recompute, x, y, cond, rope, mask)
        shift, scale = self.final_mod(F.silu(cond))[:, None].chunk(2, dim=-1)
        out = self.final_proj(self.final_norm(x) * (1 + scale) + shift)  # (B, N, p*p*C)
        out = out.view(b, t, gh, gw, self.spec.out_channels, p, p).permute(0, 4, 1, 2, 5, 3, 6)
        return out.reshape(b, self.spec.out_channels, t, h, w)
